using System.Text;

namespace Lstp.Admin.Tests.Check;

/// <summary>
/// Texts for one option: good ones both the command and `lstp check` must take, bad ones both must refuse, and
/// the options it needs beside it (a rule between options would refuse it alone).
/// </summary>
public sealed record OptionSample(string[] Good, string[] Bad, (string Flag, string Text)[] With);

/// <summary>
/// Good and bad texts for every option of `lstp middle`, `lstp end` and `lstp status`, and the files they name. An
/// option without samples fails <see cref="OptionDriftTests"/>: a new option must say what it takes and refuses.
/// </summary>
public sealed class OptionSamples : IDisposable
{
    private static readonly string[] Counts = ["+5", " 5", "5 ", "-1", "0", "1e3", "abc", "", "5.0", "1,000", "99999999999"];
    private static readonly string[] SecondsBad = ["+5", " 5", "-1", "0", "1e3", "abc", "", "NaN", "Infinity", "1,5"];
    private static readonly string[] SwitchBad = ["yes", "1", "on", ""];
    private const string Fingerprint = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

    private readonly DirectoryInfo _dir = Directory.CreateTempSubdirectory("lstp-options");

    public OptionSamples()
    {
        SecretFile = Write("secret", "s3cret\n");
        EmptyFile = Write("empty", "  \n");
        TokenFile = Write("tokens", "t1\n\nt2\n");
        PemFile = Write("cert.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n");
        UserPassFile = Write("proxy-auth", "alice:pw\n");
        BlobFile = Write("cluster.p12", "\u0001\u0002");
        MissingFile = Path.Combine(_dir.FullName, "missing");

        var admin = new Dictionary<string, OptionSample>
        {
            ["--admin-token"] = new(["t"], ["", " "], []),
            ["--admin-token-file"] = new([SecretFile], [MissingFile, EmptyFile], []),
            ["--admin-user"] = new(["alice"], ["", " ", "a:b"], [("--admin-password", "pw")]),
            ["--admin-password"] = new(["pw"], ["", " "], [("--admin-user", "alice")]),
            ["--admin-password-file"] = new([SecretFile], [MissingFile, EmptyFile], [("--admin-user", "alice")]),
        };
        Middle = new Dictionary<string, OptionSample>(admin)
        {
            ["--listen"] = new(["0.0.0.0:7700", "127.0.0.1:0", "[::1]:7700"], ["7700", "host:99999", "", "a:b:c", "host:+5"], []),
            ["--name"] = new(["relay-1"], ["", " "], []),
            ["--admin"] = new(["127.0.0.1:7780", "off", "none"], ["7780", "0.0.0.0:7780", ""], []),
            ["--token"] = new(["t1"], [""], []),
            ["--token-file"] = new([TokenFile], [MissingFile, EmptyFile], []),
            ["--public"] = new(["relay.example.net:7700"], ["relay", ""], []),
            ["--upstream"] = new(["relay:7700"], ["relay:0", "relay", ""], []),
            ["--upstream-token"] = new(["t"], ["", " "], [("--upstream", "relay:7700")]),
            ["--upstream-token-file"] = new([SecretFile], [MissingFile, EmptyFile], [("--upstream", "relay:7700")]),
            ["--publish-range"] = new(["20000-20099"], ["20099-20000", "0-5", "abc", "+5", ""], []),
            ["--publish-hold"] = new(["60", "0.5"], SecondsBad, []),
            ["--tls-cert"] = new([PemFile], [MissingFile, EmptyFile], [("--tls-key", PemFile)]),
            ["--tls-key"] = new([PemFile], [MissingFile, EmptyFile], [("--tls-cert", PemFile)]),
            ["--max-frame-size"] = new(["1", "1048576"], Counts, []),
            ["--wait-expiry"] = new(["600", "0.25"], SecondsBad, []),
            ["--setup-deadline"] = new(["10"], SecondsBad, []),
            ["--max-waiting-per-source"] = new(["64"], Counts, []),
            ["--max-links-per-source"] = new(["1024"], Counts, []),
            ["--max-links"] = new(["100000"], Counts, []),
            ["--max-connections-per-second"] = new(["50"], Counts, []),
            ["--otlp"] = new(["http://collector:4318"], ["collector:4318", "ftp://collector", ""], []),
            ["--upstream-tls"] = new(["true", "false"], SwitchBad, [("--upstream", "relay:7700")]),
            ["--upstream-fingerprint"] = new([Fingerprint, "sha256:" + Fingerprint.ToUpperInvariant()], ["abc", "", Fingerprint[1..]], [("--upstream", "relay:7700")]),
            ["--upstream-ca"] = new([PemFile], [MissingFile, EmptyFile], [("--upstream", "relay:7700")]),
            ["--cluster"] = new(["relay-1:4053", "relay-1:4053,relay-2:4053"], ["relay-1", "relay-1:0", "", ","], [("--advertise", "127.0.0.1:4053")]),
            ["--advertise"] = new(["127.0.0.1:4053"], ["127.0.0.1:0", "abc", ""], []),
            ["--cluster-cert"] = new([BlobFile], [MissingFile], [("--advertise", "127.0.0.1:4053")]),
        };
        End = new Dictionary<string, OptionSample>(admin)
        {
            ["--middle"] = new(["relay:7700"], ["relay", "relay:0", ""], []),
            ["--secret"] = new(["s"], ["", " "], []),
            ["--secret-file"] = new([SecretFile], [MissingFile, EmptyFile], []),
            ["--name"] = new(["corp-a"], ["", " "], []),
            ["--token"] = new(["t"], ["", " "], []),
            ["--token-file"] = new([SecretFile], [MissingFile, EmptyFile], []),
            ["--via"] = new(["socks5://proxy:1080", "http://user:pw@proxy:3128"], ["proxy:3128", "ftp://proxy:1", "http://proxy", "http://proxy:0", ""], []),
            ["--middle-tls"] = new(["true", "false"], SwitchBad, []),
            ["--middle-fingerprint"] = new([Fingerprint, "sha256:" + Fingerprint], ["abc", ""], []),
            ["--middle-ca"] = new([PemFile], [MissingFile, EmptyFile], []),
            ["--max-channels"] = new(["1024"], Counts, []),
            ["--service"] = new(["web=10.0.0.1:80"], ["web", "=a:1", "web=a", "web=", "a b=a:1"], []),
            ["--publish"] = new(["web=8080"], ["web", "web=0", "db=8080", "web=70000"], [("--service", "web=10.0.0.1:80")]),
            ["--allow"] = new(["10.0.0.0/8:443", "*.corp.example:*"], ["*:", "abc", "10.0.0.0/33:443", ""], []),
            ["--forward"] = new(["8080=web", "127.0.0.1:9090=db/dedicated"], ["80", "=web", "8080=", "8080=web/x", ""], []),
            ["--helper"] = new(["files=ftp"], ["files", "files=", "=ftp", ""], []),
            ["--admin"] = new(["127.0.0.1:7781", "off"], ["7781", "0.0.0.0:7781", ""], []),
            ["--socks"] = new(["1080", "127.0.0.1:1080", "localhost:1080"], ["abc", "0.0.0.0:1080", ""], []),
            ["--http-proxy"] = new(["3128", "[::1]:3128"], ["abc", "10.0.0.1:3128", ""], []),
            ["--proxy-auth"] = new(["alice:pw"], ["alice", ":pw", "alice:", ""], [("--socks", "1080")]),
            ["--proxy-auth-file"] = new([UserPassFile], [MissingFile, EmptyFile, SecretFile], [("--socks", "1080")]),
            ["--compress"] = new(["auto", "off", "db=off"], ["fast", "x=off", "db=fast", ""], [("--service", "db=10.0.0.1:5432")]),
            ["--plaintext"] = new(["true", "false"], SwitchBad, []),
            ["--otlp"] = new(["http://collector:4318", "https://otel.example/"], ["collector:4318", "ftp://collector", "abc", ""], []),
            ["--resume-grace"] = new(["30", "0", "0.5"], ["+5", " 5", "-1", "1e3", "abc", "", "NaN", "Infinity", "1,5"], []),
        };
        Status = new Dictionary<string, OptionSample>
        {
            ["--admin"] = new(["127.0.0.1:7780", "https://alice:pw@relay:7780"], ["ftp://relay", "http://", ""], []),
            ["--json"] = new(["true", "false"], SwitchBad, []),
            ["--watch"] = new(["true", "false"], SwitchBad, []),
            ["--interval"] = new(["2", "0.5"], SecondsBad, []),
            ["--token"] = new(["t"], ["", " "], []),
            ["--token-file"] = new([SecretFile], [MissingFile, EmptyFile], []),
        };
    }

    public string SecretFile { get; }
    public string EmptyFile { get; }
    public string TokenFile { get; }
    public string PemFile { get; }
    public string UserPassFile { get; }
    public string BlobFile { get; }
    public string MissingFile { get; }

    public IReadOnlyDictionary<string, OptionSample> Middle { get; }
    public IReadOnlyDictionary<string, OptionSample> End { get; }
    public IReadOnlyDictionary<string, OptionSample> Status { get; }

    public IReadOnlyDictionary<string, OptionSample> Of(string role) => role switch
    {
        "middle" => Middle,
        "end" => End,
        _ => Status,
    };

    /// <summary>Options a role cannot run without, given unless the option under test is one of them.</summary>
    public static IReadOnlyList<(string Flag, string Text)> Required(string role, string flag) => role == "end"
        ? [.. new[] { ("--middle", "relay:7700"), ("--secret", "s") }.Where(r => r.Item1 != flag && !(r.Item1 == "--secret" && flag == "--secret-file"))]
        : [];

    /// <summary>A config file in this directory, for `lstp check` and for the command's --config.</summary>
    public string Write(string name, string text)
    {
        var path = Path.Combine(_dir.FullName, name);
        File.WriteAllText(path, text, new UTF8Encoding(false));
        return path;
    }

    public void Dispose() => _dir.Delete(recursive: true);
}
