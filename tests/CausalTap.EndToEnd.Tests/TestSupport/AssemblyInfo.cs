// Every server test starts real processes (server, CLI, Python, Node) on a small shared machine: one at a time.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
