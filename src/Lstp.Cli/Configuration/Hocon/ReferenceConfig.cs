using System.CommandLine;
using System.Text;
using Lstp.Cli.Commands;

namespace Lstp.Cli.Configuration.Hocon;

/// <summary>
/// hocon/reference.conf, rendered from the commands' own flags: every key a `--config` file may hold, with the
/// flag's own description. A test compares the file with this rendering, so the reference cannot drift from the
/// flags (`lstp check --reference` prints it).
/// </summary>
public static class ReferenceConfig
{
    private static readonly HashSet<string> FlagsOnly = ["--config", "--log-format", "--log-level"];

    public static string Render()
    {
        var text = new StringBuilder();
        text.Append("""
            # LSTP reference configuration: every key a --config file may hold (lstp check --reference prints this).
            # Each key is a flag's name: `lstp.end.max-channels = 64` is `lstp end --max-channels 64`, and
            # LSTP__END__MAXCHANNELS=64 in the environment. Flags win over the environment, which wins over the file.
            # A repeatable flag is an array: forward = ["8080=web", "9090=db"]. ${?VAR} takes a value from the
            # environment and leaves the key out when VAR is unset. Check a file with: lstp check --config FILE
            #
            # The akka section configures the node's actor system (Akka.NET's own keys), for example
            #   akka.loglevel = INFO
            # A cluster node's remoting and cluster settings come from its flags; keys given here win over them.

            """);
        Section(text, "middle", MiddleCommand.Create());
        Section(text, "end", EndCommand.Create());
        Section(text, "status", StatusCommand.Create());
        return text.ToString();
    }

    private static void Section(StringBuilder text, string role, Command command)
    {
        text.Append('\n').Append("# lstp ").Append(role).Append(": ").Append(command.Description).Append('\n');
        text.Append("lstp.").Append(role).Append(" {\n");
        foreach (var option in command.Options.Where(o => o.Name.StartsWith("--", StringComparison.Ordinal) && !FlagsOnly.Contains(o.Name)))
        {
            text.Append("  # ").Append(option.Description).Append('\n');
            text.Append("  # ").Append(OptionKeys.Kebab(option)).Append(" = ").Append(Example(option)).Append('\n');
        }
        text.Append("}\n");
    }

    private static string Example(Option option) => option.ValueType == typeof(string[]) ? "[...]"
        : option.ValueType == typeof(bool) ? "false"
        : "\"...\"";
}
