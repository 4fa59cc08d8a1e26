using System.CommandLine;
using Lstp.Cli.Check;
using Lstp.Cli.Configuration;
using Lstp.Cli.Configuration.Hocon;

namespace Lstp.Cli.Commands;

/// <summary>`lstp check --config FILE`: every problem in a config file for `lstp middle` and `lstp end`, each with its line.</summary>
public static class CheckCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "the HOCON config file to check (lstp.middle, lstp.end and akka sections; see hocon/reference.conf)" };
        var reference = new Option<bool>("--reference") { Description = "print the reference configuration: every key a config file may hold" };
        var command = new Command("check", "Check a HOCON config file for `lstp middle` and `lstp end`: print every problem with its line; exit 0 when valid, 2 otherwise.")
        {
            config, reference,
        };
        command.SetAction((parse, cancellationToken) => CommonOptions.Run(() =>
        {
            if (parse.GetValue(reference))
            {
                Console.Write(ReferenceConfig.Render());
                return Task.FromResult(0);
            }
            var file = parse.GetValue(config) ?? throw new UsageException("--config FILE is required (or --reference)");
            if (!File.Exists(file)) throw new UsageException($"--config: file '{file}' does not exist");
            var report = ConfigCheck.Check(File.ReadAllText(file), EnvironmentKeys());
            foreach (var problem in report.Problems) Console.WriteLine($"{file}:{problem}");
            Console.WriteLine(report.Problems.Count == 0
                ? $"{file}: valid ({string.Join(", ", report.Sections)})"
                : $"{file}: {report.Problems.Count} problem{(report.Problems.Count == 1 ? "" : "s")}");
            return Task.FromResult(report.Problems.Count == 0 ? 0 : 2);
        }));
        return command;
    }

    /// <summary>The LSTP__ variables set now: they may supply what the file leaves out (a secret, the middles).</summary>
    private static IReadOnlySet<string> EnvironmentKeys() =>
        Environment.GetEnvironmentVariables().Keys.OfType<string>()
            .Where(k => k.StartsWith("LSTP__", StringComparison.OrdinalIgnoreCase))
            .Select(k => k.ToUpperInvariant())
            .ToHashSet();
}
