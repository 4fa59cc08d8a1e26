using System.CommandLine;
using System.Globalization;
using System.Net;
using Lstp.Admin.Access;
using Lstp.Cli.Configuration;
using Lstp.Cli.Configuration.Hocon;
using Lstp.EndProxy;
using Lstp.EndProxy.Policy;
using Lstp.EndProxy.Publish;
using Lstp.Middle;
using Lstp.Transport;
using Lstp.Transport.Dialing;

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

/// <summary>One problem in a config file: the line, where (a key path such as <c>lstp.end.forward[1]</c>) and what.</summary>
public sealed record ConfigProblem(int Line, string Location, string Message)
{
    public override string ToString() => $"{Line}: {Location}: {Message}";
}

/// <summary>What <see cref="ConfigCheck.Check"/> found: the sections present and every problem.</summary>
public sealed record ConfigReport(IReadOnlyList<string> Sections, IReadOnlyList<ConfigProblem> Problems);

/// <summary>
/// Checks a config file with the parsers the commands themselves use (HostPort, ForwardSpec, ServiceSpec,
/// AllowList, ViaParser, <see cref="OptionValues"/>), against the keys the commands' own flags imply
/// (<see cref="OptionKeys"/>). It reports every problem, not the first; messages never repeat a secret or token.
/// </summary>
public static class ConfigCheck
{
    /// <summary>Flags that are not config keys: they choose the file and the log, so the file cannot set them.</summary>
    private static readonly HashSet<string> FlagsOnly = new(StringComparer.Ordinal) { "Config", "LogFormat", "LogLevel" };

    public static ConfigReport Check(string text, IReadOnlySet<string>? environment = null)
    {
        environment ??= new HashSet<string>();
        var problems = new List<ConfigProblem>();
        var sections = new List<string>();
        HoconObject root;
        try
        {
            root = HoconReader.Read(text);
        }
        catch (HoconException ex)
        {
            return new ConfigReport([], [new ConfigProblem(ex.Line, $"column {ex.Column}", ex.Problem)]);
        }
        foreach (var (name, value) in root.Fields)
        {
            if (name == "akka")
            {
                if (value is not HoconObject akka) problems.Add(new ConfigProblem(value.Line, "akka", "expected an object: the actor system's settings"));
                else if (Akka(akka) is { } problem) problems.Add(new ConfigProblem(value.Line, "akka", problem));
                continue;
            }
            if (name != "lstp")
            {
                problems.Add(new ConfigProblem(value.Line, name, $"unknown section{Section.Suggest(name, ["lstp", "akka"])} (expected lstp or akka)"));
                continue;
            }
            if (value is not HoconObject lstp)
            {
                problems.Add(new ConfigProblem(value.Line, name, "expected an object with middle and/or end"));
                continue;
            }
            foreach (var (role, options) in lstp.Fields)
            {
                switch (role)
                {
                    case "middle":
                        sections.Add("lstp.middle");
                        if (Section.Open("lstp.middle", options, problems, environment, "LSTP__MIDDLE__", KnownKeys(MiddleCommand.Create())) is { } middle) MiddleRules.Check(middle);
                        break;
                    case "end":
                        sections.Add("lstp.end");
                        if (Section.Open("lstp.end", options, problems, environment, "LSTP__END__", KnownKeys(EndCommand.Create())) is { } end) EndRules.Check(end);
                        break;
                    case "status":
                        sections.Add("lstp.status");
                        Section.Open("lstp.status", options, problems, environment, "LSTP__STATUS__", KnownKeys(StatusCommand.Create()));
                        break;
                    default:
                        problems.Add(new ConfigProblem(options.Line, $"lstp.{role}", $"unknown section{Section.Suggest(role, ["middle", "end", "status"])} (expected middle, end or status)"));
                        break;
                }
            }
        }
        if (sections.Count == 0 && problems.Count == 0) problems.Add(new ConfigProblem(1, "lstp", "no lstp.middle or lstp.end section: nothing for lstp middle or lstp end to read"));
        return new ConfigReport(sections, [.. problems.OrderBy(p => p.Line)]);
    }

    /// <summary>Whether Akka reads the section; its own message when it does not.</summary>
    private static string? Akka(HoconObject akka)
    {
        try
        {
            HoconFile.ToAkka(akka);
            return null;
        }
        catch (Exception ex)
        {
            return $"the actor system cannot read it: {ex.Message}";
        }
    }

    /// <summary>Every key a flag of the command implies (<see cref="OptionKeys"/>): the flags are the one declaration.</summary>
    private static IReadOnlyList<string> KnownKeys(Command command) =>
        [.. command.Options.Where(o => o.Name.StartsWith("--", StringComparison.Ordinal)).Select(OptionKeys.Pascal).Where(k => !FlagsOnly.Contains(k))];
}

/// <summary>One section of the file, with helpers that record problems at the line of the value they concern.</summary>
internal sealed class Section
{
    private readonly Dictionary<string, (string Name, HoconNode Value)> _keys = new(StringComparer.Ordinal);
    private readonly List<ConfigProblem> _problems;
    private readonly IReadOnlySet<string> _environment;
    private readonly string _environmentPrefix;

    private Section(string path, int line, List<ConfigProblem> problems, IReadOnlySet<string> environment, string environmentPrefix)
    {
        Path = path;
        Line = line;
        _problems = problems;
        _environment = environment;
        _environmentPrefix = environmentPrefix;
    }

    public string Path { get; }

    /// <summary>Where the section starts: problems about a key it lacks point here.</summary>
    public int Line { get; }

    public static Section? Open(string path, HoconNode node, List<ConfigProblem> problems, IReadOnlySet<string> environment, string environmentPrefix, IReadOnlyList<string> known)
    {
        if (node is not HoconObject obj)
        {
            problems.Add(new ConfigProblem(node.Line, path, "expected an object of options"));
            return null;
        }
        var section = new Section(path, node.Line, problems, environment, environmentPrefix);
        foreach (var (name, value) in obj.Fields)
        {
            var key = OptionKeys.Pascal(name);
            if (!known.Contains(key, StringComparer.Ordinal) || name != OptionKeys.Kebab(key))
            {
                problems.Add(new ConfigProblem(value.Line, $"{path}.{name}", $"unknown option{Suggest(name, known.Select(OptionKeys.Kebab))}"));
                continue;
            }
            section._keys[key] = (name, value);
        }
        return section;
    }

    public static string Suggest(string name, IEnumerable<string> known)
    {
        var best = known.Select(k => (Key: k, Distance: Distance(name.ToLowerInvariant(), k.ToLowerInvariant())))
            .Where(c => c.Distance <= Math.Max(2, name.Length / 4)).OrderBy(c => c.Distance).FirstOrDefault();
        return best.Key is null ? "" : $" (did you mean {best.Key}?)";
    }

    public bool Has(string key) => _keys.ContainsKey(key);

    /// <summary>Whether an LSTP__ environment variable supplies the key (possibly as an indexed list).</summary>
    public bool FromEnvironment(string key) =>
        _environment.Any(e => e == (_environmentPrefix + key).ToUpperInvariant() || e.StartsWith((_environmentPrefix + key + "__").ToUpperInvariant(), StringComparison.Ordinal));

    /// <summary>Where a key is: its path in the file (<c>lstp.end.max-channels</c>).</summary>
    public string Location(string key) => $"{Path}.{(_keys.TryGetValue(key, out var found) ? found.Name : OptionKeys.Kebab(key))}";

    /// <summary>The line of a key's value, or the section's own line when the key is absent.</summary>
    public int LineOf(string key) => _keys.TryGetValue(key, out var found) ? found.Value.Line : Line;

    /// <summary>A problem with a key (at its value's line).</summary>
    public void Problem(string key, string message) => _problems.Add(new ConfigProblem(LineOf(key), Location(key), message));

    /// <summary>A problem with one item of a list.</summary>
    public void Problem(ListItem item, string message) => _problems.Add(new ConfigProblem(item.Line, item.Location, message));

    /// <summary>A scalar's text; null when absent (or not a scalar, which is a problem).</summary>
    public string? Scalar(string key)
    {
        if (!_keys.TryGetValue(key, out var found)) return null;
        if (found.Value is HoconScalar scalar) return scalar.Text;
        Problem(key, "expected a single value, not an object or array");
        return null;
    }

    /// <summary>A list: an array of values, or one comma-separated value; each item with its location and line.</summary>
    public IReadOnlyList<ListItem> List(string key)
    {
        if (!_keys.TryGetValue(key, out var found)) return [];
        var location = Location(key);
        switch (found.Value)
        {
            case HoconArray array:
                var items = new List<ListItem>();
                for (var i = 0; i < array.Items.Count; i++)
                {
                    if (array.Items[i] is HoconScalar text) items.Add(new ListItem($"{location}[{i}]", array.Items[i].Line, text.Text));
                    else _problems.Add(new ConfigProblem(array.Items[i].Line, $"{location}[{i}]", "expected a string"));
                }
                return items;
            case HoconScalar scalar:
                return [.. scalar.Text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select((v, i) => new ListItem($"{location}[{i}]", scalar.Line, v))];
            default:
                Problem(key, "expected an array of strings, or one comma-separated string");
                return [];
        }
    }

    private static int Distance(string a, string b)
    {
        var row = Enumerable.Range(0, b.Length + 1).ToArray();
        for (var i = 1; i <= a.Length; i++)
        {
            var previous = row[0];
            row[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var current = row[j];
                row[j] = Math.Min(Math.Min(row[j] + 1, row[j - 1] + 1), previous + (a[i - 1] == b[j - 1] ? 0 : 1));
                previous = current;
            }
        }
        return row[b.Length];
    }
}

/// <summary>One item of a list option: where it is, its line, and its text.</summary>
internal sealed record ListItem(string Location, int Line, string Value);

/// <summary>Checks shared by both sections: addresses, numbers, secrets held inline or in files, admin access.</summary>
internal static class CommonRules
{
    public static HostPort? Address(Section s, string key, string? defaultHost = null, bool allowPortZero = true)
    {
        if (s.Scalar(key) is not { } text) return null;
        if (!HostPort.TryParse(text, out var address, out var error, defaultHost))
        {
            s.Problem(key, error);
            return null;
        }
        if (!allowPortZero && address.Port == 0) s.Problem(key, $"'{text}': port 0 cannot be dialled");
        return address;
    }

    public static void PositiveSeconds(Section s, string key)
    {
        if (s.Scalar(key) is { } text && !OptionValues.TrySeconds(text, out _)) s.Problem(key, $"'{text}' {OptionValues.SecondsProblem}");
    }

    public static void PositiveCount(Section s, string key)
    {
        if (s.Scalar(key) is { } text && !OptionValues.TryCount(text, out _)) s.Problem(key, $"'{text}' {OptionValues.CountProblem}");
    }

    public static void Flag(Section s, string key)
    {
        if (s.Scalar(key) is { } text && !bool.TryParse(text, out _)) s.Problem(key, $"'{text}' is not true or false");
    }

    public static void Name(Section s, string key)
    {
        if (s.Scalar(key) is { } text && string.IsNullOrWhiteSpace(text)) s.Problem(key, "empty");
    }

    /// <summary>
    /// A secret given inline (<paramref name="key"/>) or in a file (<paramref name="key"/>File): not both, never
    /// empty, the file present and non-empty. The value itself is never quoted. Returns whether one is given.
    /// </summary>
    public static bool Secret(Section s, string key, string what)
    {
        var fileKey = key + "File";
        var inline = s.Scalar(key);
        var file = s.Scalar(fileKey);
        if (inline is not null && file is not null) s.Problem(fileKey, $"give the {what} once: {s.Location(key)} or {s.Location(fileKey)}, not both");
        if (inline is not null && string.IsNullOrWhiteSpace(inline)) s.Problem(key, $"the {what} is empty");
        if (file is not null) ReadableFile(s, fileKey, what, mustHoldText: true);
        return inline is not null || file is not null;
    }

    public static void ReadableFile(Section s, string key, string what, bool mustHoldText)
    {
        if (s.Scalar(key) is not { } path) return;
        if (!File.Exists(path)) s.Problem(key, $"'{path}' does not exist");
        else if (mustHoldText && File.ReadAllText(path).Trim().Length == 0) s.Problem(key, $"'{path}' is empty; it must hold the {what}");
    }

    /// <summary>Runs one of the commands' own parsers; its message, minus the flag it names, is the problem.</summary>
    public static bool TryParse<T>(Section s, string key, string text, Func<string, T> parse, out T value) =>
        TryParse(message => s.Problem(key, message), text, parse, out value);

    public static bool TryParse<T>(Section s, ListItem item, Func<string, T> parse, out T value) =>
        TryParse(message => s.Problem(item, message), item.Value, parse, out value);

    private static bool TryParse<T>(Action<string> problem, string text, Func<string, T> parse, out T value)
    {
        try
        {
            value = parse(text);
            return true;
        }
        catch (FormatException ex)
        {
            // "--forward '80': expected ..." reads as "'80': expected ..." under the key's path.
            var message = ex.Message.StartsWith("--", StringComparison.Ordinal) && ex.Message.IndexOf(' ', StringComparison.Ordinal) is var space and > 0
                ? ex.Message[(space + 1)..]
                : ex.Message;
            problem(message);
            value = default!;
            return false;
        }
    }

    public static readonly string[] AdminKeys = ["Admin", "AdminToken", "AdminTokenFile", "AdminUser", "AdminPassword", "AdminPasswordFile"];

    /// <summary>The admin endpoint: an address (or off), and credentials whenever that address is not loopback.</summary>
    public static void Admin(Section s)
    {
        var token = Secret(s, "AdminToken", "admin token");
        var password = Secret(s, "AdminPassword", "admin password");
        var user = s.Scalar("AdminUser");
        if (user is not null && (string.IsNullOrWhiteSpace(user) || user.Contains(':', StringComparison.Ordinal))) s.Problem("AdminUser", "must be non-empty and contain no ':'");
        if (user is not null && !password) s.Problem("AdminUser", $"needs {s.Path}.admin-password or {s.Path}.admin-password-file");
        if (user is null && password) s.Problem(s.Has("AdminPassword") ? "AdminPassword" : "AdminPasswordFile", $"needs {s.Path}.admin-user");
        var text = s.Scalar("Admin");
        if (text is null or "off" or "none") return;
        if (Address(s, "Admin") is not { } admin) return;
        var credentials = token || user is not null || s.FromEnvironment("AdminToken") || s.FromEnvironment("AdminTokenFile");
        // A name is resolved only when the command starts; a literal address can be judged here.
        if (!credentials && IPAddress.TryParse(admin.Host, out var ip) && !Loopback.Is(ip))
        {
            s.Problem("Admin", $"{admin} is not a loopback address: other hosts could reach the admin endpoint, so it needs {s.Path}.admin-token (or admin-token-file, or admin-user and admin-password)");
        }
    }
}

/// <summary>The Middle section: what `lstp middle --config` reads.</summary>
internal static class MiddleRules
{
    public static void Check(Section s)
    {
        CommonRules.Address(s, "Listen");
        CommonRules.Name(s, "Name");
        CommonRules.Address(s, "Public");
        CommonRules.Address(s, "Advertise", allowPortZero: false);
        if (s.Scalar("Cluster") is { } seeds)
        {
            CommonRules.TryParse(s, "Cluster", seeds, Commands.ClusterFlags.Seeds, out _);
            if (!s.Has("Advertise") && !s.FromEnvironment("Advertise")) s.Problem("Cluster", $"needs {s.Path}.advertise: this node's own cluster endpoint");
        }
        CommonRules.ReadableFile(s, "ClusterCert", "the cluster certificate (PKCS#12)", mustHoldText: false);
        if (s.Has("ClusterCert") && !s.Has("Advertise") && !s.FromEnvironment("Advertise")) s.Problem("ClusterCert", $"has no effect without {s.Path}.cluster and {s.Path}.advertise");
        if (s.Has("Cluster") && s.Has("Upstream")) s.Problem("Upstream", $"{s.Path}.cluster and {s.Path}.upstream exclude each other: a cluster node hands ends on through the cluster");
        foreach (var item in s.List("Token"))
        {
            if (string.IsNullOrWhiteSpace(item.Value)) s.Problem(item, "an empty admission token is not allowed");
        }
        CommonRules.ReadableFile(s, "TokenFile", "admission tokens, one per line", mustHoldText: true);
        CommonRules.PositiveSeconds(s, "WaitExpiry");
        CommonRules.PositiveSeconds(s, "SetupDeadline");
        CommonRules.PositiveSeconds(s, "PublishHold");
        CommonRules.PositiveCount(s, "MaxWaitingPerSource");
        CommonRules.PositiveCount(s, "MaxLinksPerSource");
        CommonRules.PositiveCount(s, "MaxLinks");
        CommonRules.PositiveCount(s, "MaxConnectionsPerSecond");
        CommonRules.PositiveCount(s, "MaxFrameSize");
        if (s.Has("TlsCert") != s.Has("TlsKey")) s.Problem(s.Has("TlsCert") ? "TlsCert" : "TlsKey", $"{s.Path}.tls-cert and {s.Path}.tls-key go together");
        CommonRules.ReadableFile(s, "TlsCert", "PEM certificate", mustHoldText: true);
        CommonRules.ReadableFile(s, "TlsKey", "PEM private key", mustHoldText: true);
        CommonRules.Address(s, "Upstream", allowPortZero: false);
        if (s.Scalar("UpstreamToken") is { } upstreamToken && string.IsNullOrWhiteSpace(upstreamToken)) s.Problem("UpstreamToken", "the upstream admission token is empty");
        if (s.Has("UpstreamToken") && !s.Has("Upstream")) s.Problem("UpstreamToken", $"has no effect without {s.Path}.upstream");
        CommonRules.ReadableFile(s, "UpstreamTokenFile", "the upstream admission token", mustHoldText: true);
        if (s.Has("UpstreamToken") && s.Has("UpstreamTokenFile")) s.Problem("UpstreamTokenFile", $"give the upstream token once: {s.Path}.upstream-token or {s.Path}.upstream-token-file");
        if (s.Scalar("PublishRange") is { } range) CommonRules.TryParse(s, "PublishRange", range, PortRange.Parse, out _);
        if (s.Scalar("UpstreamFingerprint") is { } pin) CommonRules.TryParse(s, "UpstreamFingerprint", pin, p => MiddleTrust.NormaliseFingerprint(p, "--upstream-fingerprint"), out _);
        CommonRules.ReadableFile(s, "UpstreamCa", "PEM CA certificate", mustHoldText: true);
        foreach (var key in new[] { "UpstreamTls", "UpstreamFingerprint", "UpstreamCa" })
        {
            if (s.Has(key) && !s.Has("Upstream")) s.Problem(key, $"has no effect without {s.Path}.upstream");
        }
        CommonRules.Admin(s);
    }
}

/// <summary>The End section: what `lstp end --config` reads.</summary>
internal static class EndRules
{
    public static void Check(Section s)
    {
        var middles = s.List("Middle");
        if (middles.Count == 0 && !s.FromEnvironment("Middle")) s.Problem("Middle", "at least one middle HOST:PORT is required");
        foreach (var item in middles)
        {
            if (!HostPort.TryParse(item.Value, out var middle, out var error)) s.Problem(item, error);
            else if (middle.Port == 0) s.Problem(item, $"'{item.Value}': port 0 cannot be dialled");
        }
        var secret = CommonRules.Secret(s, "Secret", "tunnel secret");
        if (!secret && !s.FromEnvironment("Secret") && !s.FromEnvironment("SecretFile"))
        {
            s.Problem("Secret", $"a tunnel secret is required: {s.Path}.secret, {s.Path}.secret-file or LSTP__END__SECRET");
        }
        CommonRules.Name(s, "Name");
        CommonRules.Secret(s, "Token", "admission token");
        if (s.Scalar("Via") is { } via && !ViaParser.TryParse(via, out _, out var viaError)) s.Problem("Via", viaError);

        var services = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var item in s.List("Service"))
        {
            if (!CommonRules.TryParse(s, item, ServiceSpec.Parse, out var service)) continue;
            if (services.TryGetValue(service.Name, out var first)) s.Problem(item, $"service '{service.Name}' is offered twice (first at {first})");
            else services[service.Name] = item.Location;
        }
        foreach (var item in s.List("Publish"))
        {
            if (CommonRules.TryParse(s, item, PublishSpec.Parse, out var publish) && !services.ContainsKey(publish.Service))
            {
                s.Problem(item, $"'{publish.Service}' is not among this end's services ({s.Path}.service), so there is nothing to publish");
            }
        }
        foreach (var item in s.List("Allow"))
        {
            CommonRules.TryParse(s, item, pattern => AllowList.Parse([pattern]), out _);
        }
        var listens = new Dictionary<HostPort, string>();
        foreach (var item in s.List("Forward"))
        {
            if (!CommonRules.TryParse(s, item, ForwardSpec.Parse, out var forward) || forward.Listen.Port == 0) continue;
            if (listens.TryGetValue(forward.Listen, out var first)) s.Problem(item, $"{forward.Listen} is already the listener of {first}");
            else listens[forward.Listen] = item.Location;
        }
        foreach (var key in new[] { "Socks", "HttpProxy" })
        {
            if (CommonRules.Address(s, key, defaultHost: "127.0.0.1") is not { Port: not 0 } listen) continue;
            if (listens.TryGetValue(listen, out var first)) s.Problem(key, $"{listen} is already the listener of {first}");
            else listens[listen] = s.Location(key);
        }
        if (s.Scalar("ProxyAuth") is { } auth && (auth.IndexOf(':', StringComparison.Ordinal) is <= 0 || auth.EndsWith(':')))
        {
            s.Problem("ProxyAuth", "expected USER:PASS");
        }
        if (s.Has("ProxyAuth") && !s.Has("Socks") && !s.Has("HttpProxy")) s.Problem("ProxyAuth", $"has no effect without {s.Path}.socks or {s.Path}.http-proxy");
        CommonRules.ReadableFile(s, "ProxyAuthFile", "USER:PASS for local proxy clients", mustHoldText: true);
        if (s.Has("ProxyAuth") && s.Has("ProxyAuthFile")) s.Problem("ProxyAuthFile", $"give the proxy credentials once: {s.Path}.proxy-auth or {s.Path}.proxy-auth-file");
        CommonRules.Flag(s, "Plaintext");
        CommonRules.Flag(s, "MiddleTls");
        CommonRules.ReadableFile(s, "MiddleCa", "PEM CA certificate", mustHoldText: true);
        CommonRules.PositiveCount(s, "MaxChannels");
        CommonRules.Admin(s);
    }
}
