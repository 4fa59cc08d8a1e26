using System.CommandLine;
using Lstp.Cli.Commands;

namespace Lstp.Cli;

/// <summary>The `lstp` command: middle, end, demo, status.</summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        Hosting.NativeHeap.LimitArenas();
        var root = new RootCommand("LSTP: reach a server behind outbound-only firewalls through a middle proxy, end-to-end encrypted.")
        {
            MiddleCommand.Create(),
            EndCommand.Create(),
            DemoCommand.Create(),
            StatusCommand.Create(),
            CheckCommand.Create(),
            LoadgenCommand.Create(),
            ClusterCertCommand.Create(),
        };
        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            // The contract: a bad option exits 2 with one clear line.
            Console.Error.WriteLine($"lstp: {parse.Errors[0].Message} (see 'lstp {string.Join(' ', parse.CommandResult.Command.Name)} --help')");
            return 2;
        }
        return await parse.InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(10) });
    }
}
