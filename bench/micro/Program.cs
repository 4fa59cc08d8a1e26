using BenchmarkDotNet.Running;
using Lstp.Bench.Micro;

// Every benchmark in this assembly, chosen with --filter (bench/micro/run.sh passes '*'), under MicroConfig.
BenchmarkSwitcher.FromAssembly(typeof(MicroConfig).Assembly).Run(args, MicroConfig.Create());
