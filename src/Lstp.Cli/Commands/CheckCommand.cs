using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Lstp.Admin.Access;
using Lstp.Cli.Configuration;
using Lstp.EndProxy;
using Lstp.EndProxy.Policy;
using Lstp.EndProxy.Publish;
using Lstp.Middle;
using Lstp.Transport;
using Lstp.Transport.Dialing;

namespace Lstp.Cli.Commands;

/// <summary>`lstp check --config FILE`: every problem in a config file for `lstp middle` and `lstp end`, each with its location.</summary>
public static class CheckCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "the JSON config file to check (a Middle section, an End section, or both)", Required = true };
        var command = new Command("check", "Check a JSON config file for `lstp middle` and `lstp end`: print every problem with its location; exit 0 when valid, 2 otherwise.")
        {
            config,
        };
        command.SetAction((parse, cancellationToken) => CommonOptions.Run(() =>
        {
            var file = parse.GetValue(config)!;
            if (!File.Exists(file)) throw new UsageException($"--config: file '{file}' does not exist");
            var report = ConfigCheck.Check(File.ReadAllText(file), EnvironmentKeys());
            foreach (var problem in report.Problems) Console.WriteLine($"{file}: {problem}");
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

/// <summary>One problem in a config file: where (a JSON path such as <c>End.Forwards[1]</c>) and what.</summary>
public sealed record ConfigProblem(string Location, string Message)
{
    public override string ToString() => $"{Location}: {Message}";
}

/// <summary>What <see cref="ConfigCheck.Check"/> found: the sections present and every problem.</summary>
public sealed record ConfigReport(IReadOnlyList<string> Sections, IReadOnlyList<ConfigProblem> Problems);

/// <summary>
/// Checks a config file with the parsers the commands themselves use (HostPort, ForwardSpec, ServiceSpec,
/// AllowList, ViaParser), and reads it as they do (.NET configuration: keys case-insensitive, comments and
/// trailing commas allowed, a list as an array or a comma-separated string). It reports every problem, not
/// the first; messages never repeat a secret or token.
/// </summary>
public static class ConfigCheck
{
    private static readonly JsonDocumentOptions Reading = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    /// <summary>Flags that are not config keys: they choose the file and the log, so the file cannot set them.</summary>
    private static readonly HashSet<string> FlagsOnly = new(StringComparer.OrdinalIgnoreCase) { "Config", "LogFormat", "LogLevel" };

    public static ConfigReport Check(string json, IReadOnlySet<string>? environment = null)
    {
        environment ??= new HashSet<string>();
        var problems = new List<ConfigProblem>();
        var sections = new List<string>();
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, Reading);
        }
        catch (JsonException ex)
        {
            var message = ex.Message.Split(" LineNumber:", 2)[0];
            return new ConfigReport([], [new ConfigProblem($"line {ex.LineNumber + 1}, column {ex.BytePositionInLine + 1}", $"not valid JSON: {message}")]);
        }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return new ConfigReport([], [new ConfigProblem("$", "expected a JSON object with a Middle and/or End section")]);
            }
            foreach (var (name, value) in Section.Properties(root, "", problems))
            {
                if (name.Equals("Middle", StringComparison.OrdinalIgnoreCase))
                {
                    sections.Add("Middle");
                    if (Section.Open(name, value, problems, environment, "LSTP__MIDDLE__", KnownKeys(MiddleCommand.Create(), MiddleRules.Keys)) is { } middle) MiddleRules.Check(middle);
                }
                else if (name.Equals("End", StringComparison.OrdinalIgnoreCase))
                {
                    sections.Add("End");
                    if (Section.Open(name, value, problems, environment, "LSTP__END__", KnownKeys(EndCommand.Create(), EndRules.Keys)) is { } end) EndRules.Check(end);
                }
                else
                {
                    problems.Add(new ConfigProblem(name, $"unknown section{Section.Suggest(name, ["Middle", "End"])} (expected Middle or End)"));
                }
            }
            if (sections.Count == 0 && problems.Count == 0) problems.Add(new ConfigProblem("$", "no Middle or End section: nothing for lstp middle or lstp end to read"));
        }
        return new ConfigReport(sections, problems);
    }

    /// <summary>The keys checked here, and every key a flag of the command implies (PascalCase, plural for repeatable flags).</summary>
    private static IReadOnlyList<string> KnownKeys(Command command, IEnumerable<string> checkedKeys)
    {
        var keys = new List<string>(checkedKeys);
        foreach (var option in command.Options)
        {
            if (!option.Name.StartsWith("--", StringComparison.Ordinal)) continue;
            var key = string.Concat(option.Name[2..].Split('-').Select(w => w.Length == 0 ? w : char.ToUpperInvariant(w[0]) + w[1..]));
            if (FlagsOnly.Contains(key)) continue;
            keys.Add(key);
            if (option.ValueType == typeof(string[])) keys.Add(key + "s");
        }
        return keys;
    }
}

/// <summary>One section of the file, read the way .NET configuration reads it, with helpers that record problems.</summary>
internal sealed class Section
{
    private readonly Dictionary<string, (string Name, JsonElement Value)> _keys = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<ConfigProblem> _problems;
    private readonly IReadOnlySet<string> _environment;
    private readonly string _environmentPrefix;

    private Section(string path, List<ConfigProblem> problems, IReadOnlySet<string> environment, string environmentPrefix)
    {
        Path = path;
        _problems = problems;
        _environment = environment;
        _environmentPrefix = environmentPrefix;
    }

    public string Path { get; }

    public static Section? Open(string path, JsonElement element, List<ConfigProblem> problems, IReadOnlySet<string> environment, string environmentPrefix, IReadOnlyList<string> known)
    {
        if (element.ValueKind != JsonValueKind.Object)
        {
            problems.Add(new ConfigProblem(path, "expected an object of options"));
            return null;
        }
        var section = new Section(path, problems, environment, environmentPrefix);
        foreach (var (name, value) in Properties(element, path + ".", problems))
        {
            var match = known.FirstOrDefault(k => k.Equals(name, StringComparison.OrdinalIgnoreCase));
            if (match is null)
            {
                problems.Add(new ConfigProblem($"{path}.{name}", $"unknown option{Suggest(name, known)}"));
                continue;
            }
            if (value.ValueKind != JsonValueKind.Null) section._keys[match] = (name, value);
        }
        return section;
    }

    /// <summary>An object's properties; a key given twice (in any case) is a problem, as .NET configuration refuses it.</summary>
    public static IEnumerable<(string Name, JsonElement Value)> Properties(JsonElement element, string prefix, List<ConfigProblem> problems)
    {
        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        foreach (var property in element.EnumerateObject())
        {
            if (!seen.Add(property.Name))
            {
                problems.Add(new ConfigProblem(prefix + property.Name, "given twice (keys are case-insensitive)"));
                continue;
            }
            yield return (property.Name, property.Value);
        }
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

    /// <summary>Where a key is, in the file's own spelling.</summary>
    public string Location(string key) => _keys.TryGetValue(key, out var found) ? $"{Path}.{found.Name}" : $"{Path}.{key}";

    public void Problem(string location, string message) => _problems.Add(new ConfigProblem(location, message));

    /// <summary>A scalar as configuration sees it (strings, numbers and booleans as text); null when absent.</summary>
    public string? Scalar(string key)
    {
        if (!_keys.TryGetValue(key, out var found)) return null;
        var text = Text(found.Value);
        if (text is null) Problem(Location(key), "expected a single value, not an object or array");
        return text;
    }

    /// <summary>A list: a JSON array of values, or one comma-separated string; each item with its location.</summary>
    public IReadOnlyList<(string Location, string Value)> List(string key)
    {
        if (!_keys.TryGetValue(key, out var found)) return [];
        var location = Location(key);
        if (found.Value.ValueKind == JsonValueKind.Array)
        {
            var items = new List<(string, string)>();
            var i = 0;
            foreach (var item in found.Value.EnumerateArray())
            {
                var text = Text(item);
                if (text is null) Problem($"{location}[{i}]", "expected a string");
                else items.Add(($"{location}[{i}]", text));
                i++;
            }
            return items;
        }
        var scalar = Text(found.Value);
        if (scalar is null)
        {
            Problem(location, "expected an array of strings, or one comma-separated string");
            return [];
        }
        return [.. scalar.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select((v, i) => ($"{location}[{i}]", v))];
    }

    private static string? Text(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Number => value.GetRawText(),
        JsonValueKind.True => "True",
        JsonValueKind.False => "False",
        _ => null,
    };

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

/// <summary>Checks shared by both sections: addresses, numbers, secrets held inline or in files, admin access.</summary>
internal static class CommonRules
{
    public static HostPort? Address(Section s, string key, string? defaultHost = null, bool allowPortZero = true)
    {
        if (s.Scalar(key) is not { } text) return null;
        if (!HostPort.TryParse(text, out var address, out var error, defaultHost))
        {
            s.Problem(s.Location(key), error);
            return null;
        }
        if (!allowPortZero && address.Port == 0) s.Problem(s.Location(key), $"'{text}': port 0 cannot be dialled");
        return address;
    }

    public static void PositiveSeconds(Section s, string key)
    {
        if (s.Scalar(key) is { } text && !(double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && seconds > 0))
        {
            s.Problem(s.Location(key), $"'{text}' is not a positive number of seconds");
        }
    }

    public static void PositiveCount(Section s, string key)
    {
        if (s.Scalar(key) is { } text && !(int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0))
        {
            s.Problem(s.Location(key), $"'{text}' is not a positive whole number");
        }
    }

    public static void Flag(Section s, string key)
    {
        if (s.Scalar(key) is { } text && !bool.TryParse(text, out _)) s.Problem(s.Location(key), $"'{text}' is not true or false");
    }

    public static void Name(Section s, string key)
    {
        if (s.Scalar(key) is { } text && string.IsNullOrWhiteSpace(text)) s.Problem(s.Location(key), "empty");
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
        if (inline is not null && file is not null) s.Problem(s.Location(fileKey), $"give the {what} once: {s.Location(key)} or {s.Location(fileKey)}, not both");
        if (inline is not null && string.IsNullOrWhiteSpace(inline)) s.Problem(s.Location(key), $"the {what} is empty");
        if (file is not null) ReadableFile(s, fileKey, what, mustHoldText: true);
        return inline is not null || file is not null;
    }

    public static void ReadableFile(Section s, string key, string what, bool mustHoldText)
    {
        if (s.Scalar(key) is not { } path) return;
        if (!File.Exists(path)) s.Problem(s.Location(key), $"'{path}' does not exist");
        else if (mustHoldText && File.ReadAllText(path).Trim().Length == 0) s.Problem(s.Location(key), $"'{path}' is empty; it must hold the {what}");
    }

    /// <summary>Runs one of the commands' own parsers; its message, minus the flag it names, is the problem.</summary>
    public static bool TryParse<T>(Section s, string location, string text, Func<string, T> parse, out T value)
    {
        try
        {
            value = parse(text);
            return true;
        }
        catch (FormatException ex)
        {
            // "--forward '80': expected ..." reads as "'80': expected ..." under the JSON path.
            var message = ex.Message.StartsWith("--", StringComparison.Ordinal) && ex.Message.IndexOf(' ', StringComparison.Ordinal) is var space and > 0
                ? ex.Message[(space + 1)..]
                : ex.Message;
            s.Problem(location, message);
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
        if (user is not null && (string.IsNullOrWhiteSpace(user) || user.Contains(':', StringComparison.Ordinal))) s.Problem(s.Location("AdminUser"), "must be non-empty and contain no ':'");
        if (user is not null && !password) s.Problem(s.Location("AdminUser"), $"needs {s.Path}.AdminPassword or {s.Path}.AdminPasswordFile");
        if (user is null && password) s.Problem(s.Location(s.Has("AdminPassword") ? "AdminPassword" : "AdminPasswordFile"), $"needs {s.Path}.AdminUser");
        var text = s.Scalar("Admin");
        if (text is null or "off" or "none") return;
        if (Address(s, "Admin") is not { } admin) return;
        var credentials = token || user is not null || s.FromEnvironment("AdminToken") || s.FromEnvironment("AdminTokenFile");
        // A name is resolved only when the command starts; a literal address can be judged here.
        if (!credentials && IPAddress.TryParse(admin.Host, out var ip) && !Loopback.Is(ip))
        {
            s.Problem(s.Location("Admin"), $"{admin} is not a loopback address: other hosts could reach the admin endpoint, so it needs {s.Path}.AdminToken (or AdminTokenFile, or AdminUser and AdminPassword)");
        }
    }
}

/// <summary>The Middle section: what `lstp middle --config` reads.</summary>
internal static class MiddleRules
{
    public static readonly string[] Keys =
    [
        "Listen", "Name", "Public", "Cluster", "Advertise", "ClusterCert", "Tokens", "TokenFile", "WaitExpiry", "SetupDeadline", "MaxWaitingPerSource",
        "MaxLinksPerSource", "MaxLinks", "MaxConnectionsPerSecond", "MaxFrameSize", "TlsCert", "TlsKey", "Upstream", "UpstreamToken", "UpstreamTokenFile", "UpstreamTls", "UpstreamFingerprint", "UpstreamCa", "PublishRange", .. CommonRules.AdminKeys,
    ];

    public static void Check(Section s)
    {
        CommonRules.Address(s, "Listen");
        CommonRules.Name(s, "Name");
        CommonRules.Address(s, "Public");
        CommonRules.Address(s, "Advertise", allowPortZero: false);
        if (s.Scalar("Cluster") is { } seeds)
        {
            CommonRules.TryParse(s, s.Location("Cluster"), seeds, Commands.ClusterFlags.Seeds, out _);
            if (!s.Has("Advertise")) s.Problem(s.Location("Cluster"), $"needs {s.Path}.Advertise: this node's own cluster endpoint");
        }
        CommonRules.ReadableFile(s, "ClusterCert", "the cluster certificate (PKCS#12)", mustHoldText: false);
        if (s.Has("ClusterCert") && !s.Has("Advertise")) s.Problem(s.Location("ClusterCert"), $"has no effect without {s.Path}.Cluster and {s.Path}.Advertise");
        if (s.Has("Cluster") && s.Has("Upstream")) s.Problem(s.Location("Upstream"), $"{s.Path}.Cluster and {s.Path}.Upstream exclude each other: a cluster node hands ends on through the cluster");
        foreach (var (location, token) in s.List("Tokens"))
        {
            if (string.IsNullOrWhiteSpace(token)) s.Problem(location, "an empty admission token is not allowed");
        }
        CommonRules.ReadableFile(s, "TokenFile", "admission tokens, one per line", mustHoldText: true);
        CommonRules.PositiveSeconds(s, "WaitExpiry");
        CommonRules.PositiveSeconds(s, "SetupDeadline");
        CommonRules.PositiveCount(s, "MaxWaitingPerSource");
        CommonRules.PositiveCount(s, "MaxLinksPerSource");
        CommonRules.PositiveCount(s, "MaxLinks");
        CommonRules.PositiveCount(s, "MaxConnectionsPerSecond");
        CommonRules.PositiveCount(s, "MaxFrameSize");
        if (s.Has("TlsCert") != s.Has("TlsKey")) s.Problem(s.Location(s.Has("TlsCert") ? "TlsCert" : "TlsKey"), $"{s.Path}.TlsCert and {s.Path}.TlsKey go together");
        CommonRules.ReadableFile(s, "TlsCert", "PEM certificate", mustHoldText: true);
        CommonRules.ReadableFile(s, "TlsKey", "PEM private key", mustHoldText: true);
        CommonRules.Address(s, "Upstream", allowPortZero: false);
        if (s.Scalar("UpstreamToken") is { } upstreamToken && string.IsNullOrWhiteSpace(upstreamToken)) s.Problem(s.Location("UpstreamToken"), "the upstream admission token is empty");
        if (s.Has("UpstreamToken") && !s.Has("Upstream")) s.Problem(s.Location("UpstreamToken"), $"has no effect without {s.Path}.Upstream");
        CommonRules.ReadableFile(s, "UpstreamTokenFile", "the upstream admission token", mustHoldText: true);
        if (s.Has("UpstreamToken") && s.Has("UpstreamTokenFile")) s.Problem(s.Location("UpstreamTokenFile"), $"give the upstream token once: {s.Path}.UpstreamToken or {s.Path}.UpstreamTokenFile");
        if (s.Scalar("PublishRange") is { } range) CommonRules.TryParse(s, s.Location("PublishRange"), range, PortRange.Parse, out _);
        if (s.Scalar("UpstreamFingerprint") is { } pin) CommonRules.TryParse(s, s.Location("UpstreamFingerprint"), pin, p => MiddleTrust.NormaliseFingerprint(p, "--upstream-fingerprint"), out _);
        CommonRules.ReadableFile(s, "UpstreamCa", "PEM CA certificate", mustHoldText: true);
        foreach (var key in new[] { "UpstreamTls", "UpstreamFingerprint", "UpstreamCa" })
        {
            if (s.Has(key) && !s.Has("Upstream")) s.Problem(s.Location(key), $"has no effect without {s.Path}.Upstream");
        }
        CommonRules.Admin(s);
    }
}

/// <summary>The End section: what `lstp end --config` reads.</summary>
internal static class EndRules
{
    public static readonly string[] Keys =
    [
        "Middles", "Secret", "SecretFile", "Name", "Token", "TokenFile", "Via", "Services", "Allow", "Forwards", "Socks",
        "HttpProxy", "ProxyAuth", "ProxyAuthFile", "Publish", "Plaintext", "MiddleTls", "MiddleFingerprint", "MiddleCa", "MaxChannels", .. CommonRules.AdminKeys,
    ];

    public static void Check(Section s)
    {
        var middles = s.List("Middles");
        if (middles.Count == 0 && !s.FromEnvironment("Middles")) s.Problem(s.Location("Middles"), "at least one middle HOST:PORT is required");
        foreach (var (location, text) in middles)
        {
            if (!HostPort.TryParse(text, out var middle, out var error)) s.Problem(location, error);
            else if (middle.Port == 0) s.Problem(location, $"'{text}': port 0 cannot be dialled");
        }
        var secret = CommonRules.Secret(s, "Secret", "tunnel secret");
        if (!secret && !s.FromEnvironment("Secret") && !s.FromEnvironment("SecretFile"))
        {
            s.Problem(s.Location("Secret"), $"a tunnel secret is required: {s.Path}.Secret, {s.Path}.SecretFile or LSTP__END__SECRET");
        }
        CommonRules.Name(s, "Name");
        CommonRules.Secret(s, "Token", "admission token");
        if (s.Scalar("Via") is { } via && !ViaParser.TryParse(via, out _, out var viaError)) s.Problem(s.Location("Via"), viaError);

        var services = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (location, text) in s.List("Services"))
        {
            if (!CommonRules.TryParse(s, location, text, ServiceSpec.Parse, out var service)) continue;
            if (services.TryGetValue(service.Name, out var first)) s.Problem(location, $"service '{service.Name}' is offered twice (first at {first})");
            else services[service.Name] = location;
        }
        foreach (var (location, text) in s.List("Publish"))
        {
            if (CommonRules.TryParse(s, location, text, PublishSpec.Parse, out var publish) && !services.ContainsKey(publish.Service))
            {
                s.Problem(location, $"'{publish.Service}' is not among this end's services ({s.Path}.Services), so there is nothing to publish");
            }
        }
        foreach (var (location, text) in s.List("Allow"))
        {
            CommonRules.TryParse(s, location, text, pattern => AllowList.Parse([pattern]), out _);
        }
        var listens = new Dictionary<HostPort, string>();
        foreach (var (location, text) in s.List("Forwards"))
        {
            if (!CommonRules.TryParse(s, location, text, ForwardSpec.Parse, out var forward) || forward.Listen.Port == 0) continue;
            if (listens.TryGetValue(forward.Listen, out var first)) s.Problem(location, $"{forward.Listen} is already the listener of {first}");
            else listens[forward.Listen] = location;
        }
        foreach (var key in new[] { "Socks", "HttpProxy" })
        {
            if (CommonRules.Address(s, key, defaultHost: "127.0.0.1") is not { Port: not 0 } listen) continue;
            if (listens.TryGetValue(listen, out var first)) s.Problem(s.Location(key), $"{listen} is already the listener of {first}");
            else listens[listen] = s.Location(key);
        }
        if (s.Scalar("ProxyAuth") is { } auth && (auth.IndexOf(':', StringComparison.Ordinal) is <= 0 || auth.EndsWith(':')))
        {
            s.Problem(s.Location("ProxyAuth"), "expected USER:PASS");
        }
        if (s.Has("ProxyAuth") && !s.Has("Socks") && !s.Has("HttpProxy")) s.Problem(s.Location("ProxyAuth"), $"has no effect without {s.Path}.Socks or {s.Path}.HttpProxy");
        CommonRules.ReadableFile(s, "ProxyAuthFile", "USER:PASS for local proxy clients", mustHoldText: true);
        if (s.Has("ProxyAuth") && s.Has("ProxyAuthFile")) s.Problem(s.Location("ProxyAuthFile"), $"give the proxy credentials once: {s.Path}.ProxyAuth or {s.Path}.ProxyAuthFile");
        CommonRules.Flag(s, "Plaintext");
        CommonRules.Flag(s, "MiddleTls");
        CommonRules.ReadableFile(s, "MiddleCa", "PEM CA certificate", mustHoldText: true);
        CommonRules.PositiveCount(s, "MaxChannels");
        CommonRules.Admin(s);
    }
}
