using System.CommandLine;
using Lstp.Cli.Configuration;
using static Lstp.Cli.Options.OptionRows<Lstp.Cli.Options.StatusChoices>;
using static Lstp.Cli.Options.OptionRules<Lstp.Cli.Options.StatusChoices>;

namespace Lstp.Cli.Options;

/// <summary>What `lstp status`'s options say: which admin endpoint, with which token, shown how and how often.</summary>
public sealed record StatusChoices
{
    public Uri Admin { get; init; } = new("http://127.0.0.1:7780");

    public string? Token { get; init; }

    public bool Json { get; init; }

    public bool Watch { get; init; }

    public TimeSpan Interval { get; init; } = TimeSpan.FromSeconds(2);
}

/// <summary>`lstp status`'s options, each declared once: its flags, its binding and `lstp check`'s <c>lstp.status</c>.</summary>
public static class StatusOptionTable
{
    public static OptionTable<StatusChoices> Table { get; } = new("status", "Show a middle's tunnels, their paths, channels and traffic, waiting ends and recent errors.", () => new(),
    [
        Value("--admin", "the middle's admin URL (default http://127.0.0.1:7780; http://USER:PASS@HOST:PORT for basic credentials)",
            Parse.AdminUrl, (c, v) => c with { Admin = v }),
        Switch("--json", "print /api/tunnels as JSON, for scripts (with --watch, one line per refresh)",
            (c, v) => c with { Json = v }),
        Switch("--watch", "refresh until Ctrl-C",
            (c, v) => c with { Watch = v }),
        Value("--interval", "seconds between refreshes with --watch (default 2)",
            Parse.Seconds, (c, v) => c with { Interval = v }),
        Value("--token", "the admin endpoint's token (prefer --token-file or LSTP__STATUS__TOKEN: flags show in ps)",
            Parse.Secret("admin endpoint's token"), (c, v) => c with { Token = v }),
        Value("--token-file", "file holding the admin endpoint's token",
            Parse.SecretFile("admin endpoint's token"), (c, v) => c with { Token = v }),
    ],
    [
        Once("--token", "--token-file"),
    ]);

    /// <summary>`lstp status`'s options from its flags and the environment: a <see cref="UsageException"/> names the first problem.</summary>
    public static StatusChoices Read(ParseResult parse) => Table.Bind(new Settings(parse, Table));
}
