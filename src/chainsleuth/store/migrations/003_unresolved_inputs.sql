-- Inputs whose spent output is not (yet) in the workspace. Resolution works on this small table instead of
-- scanning every input of the chain after each batch; a row leaves it when its prevout is resolved.
CREATE TABLE unresolved_inputs (
    chain      VARCHAR NOT NULL,
    tx_id      BIGINT NOT NULL,
    n          INTEGER NOT NULL,
    prev_txid  VARCHAR NOT NULL,
    prev_n     BIGINT NOT NULL
);
