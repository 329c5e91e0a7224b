"""Sync between services, live: writers on a source, relays, a broker, replicas converging.

    python -m examples.sync_live                        # SQLite source, local Redis, 5 s
    python -m examples.sync_live --source mongodb://127.0.0.1:27017/live --seconds 10
    python -m examples.sync_live --source postgresql+psycopg://postgres@127.0.0.1/app

Writer threads change a few hot profiles of the source (``modify``: read,
change, conditional write, retried) and now and then delete one and insert
it again; each write records its change event in the source's outbox (a
table, or the MongoDB documents themselves). Two relays share the outbox's
partitions and publish to a Redis stream of the run's own; each "crashes"
after publishing every few batches (``--crash-every``), before marking them,
so those events go out again. Two services keep copies, each through its own
consumer group: *orders* keeps the name, *search* the whole profile.

Every second a line shows writes, pending events and what each copy did
with what it received: ``applied``, or discarded as ``duplicate`` (seen
before) or ``stale`` (older than what it holds). At the end the writers
stop, the relays and consumers drain, and the run checks that every copy
holds exactly the source's values and versions, and (``occ.testing``'s
replica rule) that no copy's version of a key ever went down. Exit status 0
when they converged.
"""
