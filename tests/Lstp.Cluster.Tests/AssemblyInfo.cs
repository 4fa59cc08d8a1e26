// The cluster tests start several middles, hundreds of ends and a PostgreSQL each: one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
