using BenchmarkDotNet.Running;

// Pick benchmarks with BenchmarkDotNet's own options, e.g.
//   dotnet run -c Release --project bench/Capacity.Benchmarks -- --filter '*' --job short
var summaries = BenchmarkSwitcher.FromAssembly(typeof(Capacity.Benchmarks.DecideBenchmarks).Assembly).Run(args);

// A benchmark that threw or failed validation must fail the run, not leave a table with holes.
return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
