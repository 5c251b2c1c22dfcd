"""L2: seeded training worlds (crime cases on real-format chains), answer keys, exercises, grading, locales.

Library API (stable; ``chainsleuth demo`` and the clustering/tracing error-rate measurements use it)::

    from chainsleuth.training import generate_world, TYPOLOGIES

    world, key = generate_world("ransomware", difficulty=2, seed=7, size=4000)
    paths = world.write(out_dir)              # out_dir/trainee/{btc/blk00000.dat, eth/*.csv,
                                              #   tags/training-tags.yaml, brief.md, questions.json,
                                              #   case.json} and out_dir/answer_key.json
    key.owner_of("bc1q...")                   # -> entity id, e.g. "exchange-3" (KeyError-free: NotFound)
    key.entity_kind("exchange-3")             # -> "exchange" (wallet, mixer, ransomware, victim, ...)
    key.addresses_of("exchange-3", "btc")     # every address of an entity on a chain
    key.cashouts                              # [Cashout(entity, entity_name, chain, address, amount,
                                              #          asset, txids)]: what reached each cash-out
    key.path                                  # [PathStep(step, chain, txid, from_entity, to_entity,
                                              #           amount, asset, note)]: the laundering path
    key.hops                                  # [Hop(...)]: cross-chain hops (bridge in/out txids)
    key.facts                                 # what the brief tells the trainee (victim payments, ...)
    AnswerKey.load(out_dir)                   # read answer_key.json back
    world.btc_txids[i], world.btc.tx_kind[i]  # txid and generator kind ("payment", "coinjoin-wasabi",
                                              #   "coinjoin-whirlpool", "exchange-sweep", ...) of ledger tx i
    world.btc_blocks                          # raw blocks (genesis first), as written to blk00000.dat

- ``generate_world(typology, difficulty, seed, size=...)``: ``typology`` is a name in :data:`TYPOLOGIES`
  (``ransomware``, ``darknet_market``, ``investment_scam``, ``exchange_hack``, ``sanctions_evasion``),
  ``difficulty`` 1-3, ``seed`` an int (same seed -> byte-identical output), ``size`` about how many
  background Bitcoin transactions (EVM background is about a quarter of it).
- Every generator in :data:`TYPOLOGIES` takes ``difficulty=``, ``seed=`` (a numpy ``Generator``),
  ``size=`` and returns ``(World, AnswerKey)``; new typologies register with
  ``@TYPOLOGIES.register("name")``.
- Amounts are ints in base units (satoshi, wei, USDT's 6-decimal units). Owner keys are
  ``"<chain>:<address>"`` (chains ``btc`` and ``eth``; EVM addresses lowercase).
- The Bitcoin chain is mainnet-format, starts at the real genesis block and continues from height 1;
  the EVM side is chain ``eth`` as ethereum-etl CSV exports, block 0 holding the genesis allocations.

Modules: ``world`` (entities, answer key, builder), ``ledger_btc`` / ``ledger_evm`` (the two ledgers),
``economy`` (background), ``typologies`` (the crimes and difficulty levels), ``output`` / ``output_btc``
(formats), ``exercises`` / ``grading`` / ``i18n`` (questions, scores, languages), ``session`` (folders).
"""

from chainsleuth.training.typologies import LEVELS, TYPOLOGIES, generate_world
from chainsleuth.training.world import AnswerKey, Cashout, Entity, Hop, PathStep, World

__all__ = ["LEVELS", "TYPOLOGIES", "AnswerKey", "Cashout", "Entity", "Hop", "PathStep", "World", "generate_world"]
