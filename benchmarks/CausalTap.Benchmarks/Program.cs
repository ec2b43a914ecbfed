using BenchmarkDotNet.Running;

// Entry point: BenchmarkDotNet's switcher, so `-- --filter '*Decode*'` picks benchmarks by name.
BenchmarkSwitcher.FromAssembly(typeof(CausalTap.Benchmarks.DecodeBenchmarks).Assembly).Run(args);
