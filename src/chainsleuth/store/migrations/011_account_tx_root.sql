-- The transactions root of EVM blocks (shown as the block's merkle root by `show block`).
ALTER TABLE account_blocks ADD COLUMN transactions_root VARCHAR;
