using System.Text;
using Lstp.Cli.Options;

namespace Lstp.Cli.Configuration.Hocon;

/// <summary>
/// hocon/reference.conf, rendered from the commands' option tables: every key a `--config` file may hold, with the
/// flag's own description. A test compares the file with this rendering, so the reference cannot drift from the
/// flags (`lstp check --reference` prints it).
/// </summary>
public static class ReferenceConfig
{
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
        foreach (var table in OptionTables.All) Section(text, table);
        return text.ToString();
    }

    private static void Section(StringBuilder text, IOptionTable table)
    {
        text.Append('\n').Append("# lstp ").Append(table.Role).Append(": ").Append(table.Description).Append('\n');
        text.Append("lstp.").Append(table.Role).Append(" {\n");
        foreach (var option in table.Options.Where(o => o.InFile))
        {
            text.Append("  # ").Append(option.Description).Append('\n');
            text.Append("  # ").Append(option.FileKey).Append(" = ").Append(Example(option.Shape)).Append('\n');
        }
        text.Append("}\n");
    }

    private static string Example(OptionShape shape) => shape switch
    {
        OptionShape.List => "[...]",
        OptionShape.Switch => "false",
        _ => "\"...\"",
    };
}
