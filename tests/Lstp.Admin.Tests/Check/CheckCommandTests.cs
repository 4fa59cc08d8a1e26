using Lstp.Cli.Check;
using Lstp.Cli.Configuration.Hocon;
using Lstp.Testing;
using Xunit;

namespace Lstp.Admin.Tests.Check;

/// <summary>`lstp check --config FILE`: every problem with its line and key path, exit 0 when valid and 2 otherwise.</summary>
public sealed class CheckCommandTests
{
    [Theory]
    [InlineData("middle.conf", "lstp.middle")]
    [InlineData("server-end.conf", "lstp.end")]
    [InlineData("client-end.conf", "lstp.end")]
    public void The_example_configs_are_valid(string file, string section)
    {
        var report = ConfigCheck.Check(File.ReadAllText(Path.Combine(Repository.Root, "hocon", file)));
        Assert.Empty(report.Problems);
        Assert.Equal([section], report.Sections);
    }

    [Fact]
    public void The_cluster_node_example_is_valid_once_its_flags_and_files_are_there()
    {
        // Its node's own cluster endpoint comes from a flag or LSTP__MIDDLE__ADVERTISE; its certificate and tokens
        // are files on the node, not here.
        var report = ConfigCheck.Check(File.ReadAllText(Path.Combine(Repository.Root, "hocon", "cluster-node.conf")), new HashSet<string> { "LSTP__MIDDLE__ADVERTISE" });
        Assert.All(report.Problems, p => Assert.EndsWith("does not exist", p.Message, StringComparison.Ordinal));
        Assert.Equal(["lstp.middle.cluster-cert", "lstp.middle.token-file"], report.Problems.Select(p => p.Location));
    }

    [Fact]
    public void The_reference_configuration_is_the_one_the_flags_imply()
    {
        var file = File.ReadAllText(Path.Combine(Repository.Root, "hocon", "reference.conf"));
        Assert.Equal(ReferenceConfig.Render(), file);
        HoconReader.Read(file); // and it reads
    }

    [Fact]
    public void Every_problem_is_reported_with_its_line_and_key()
    {
        var report = ConfigCheck.Check("""
            lstp.middle { listen = "0.0.0.0:99999", admin = "0.0.0.0:7780", wait-expiry = -1, nmae = x }
            lstp.end {
              middle = ["relay:7700", "nowhere"]
              secret = the-tunnel-secret-91b
              via = "socks5://alice:proxy-pass-5e@proxy"
              service = ["web=10.0.0.1:80", "web=10.0.0.2:80"]
              forward = ["8080=web", "80"]
              allow = ["10.0.0.0/8:443", "*:"]
              plaintext = yes
              max-channels = +5
            }
            """);
        var problems = report.Problems.ToDictionary(p => p.Location, p => (p.Line, p.Message));
        Assert.Contains("invalid port", problems["lstp.middle.listen"].Message, StringComparison.Ordinal);
        Assert.Contains("not a loopback address", problems["lstp.middle.admin"].Message, StringComparison.Ordinal);
        Assert.Contains("positive number of seconds", problems["lstp.middle.wait-expiry"].Message, StringComparison.Ordinal);
        Assert.Contains("did you mean name?", problems["lstp.middle.nmae"].Message, StringComparison.Ordinal);
        Assert.Equal(3, problems["lstp.end.middle[1]"].Line);
        Assert.StartsWith("'nowhere' has no port", problems["lstp.end.middle[1]"].Message, StringComparison.Ordinal);
        Assert.Contains("has no port", problems["lstp.end.via"].Message, StringComparison.Ordinal);
        Assert.Contains("offered twice", problems["lstp.end.service[1]"].Message, StringComparison.Ordinal);
        Assert.Equal((7, "'80': expected [HOST:]PORT=SERVICE"), problems["lstp.end.forward[1]"]);
        Assert.StartsWith("'*:'", problems["lstp.end.allow[1]"].Message, StringComparison.Ordinal);
        Assert.Equal((9, "'yes' is not true or false"), problems["lstp.end.plaintext"]);
        // `lstp end --max-channels +5` refuses it too: one parser for both.
        Assert.Equal((10, "'+5' is not a positive whole number"), problems["lstp.end.max-channels"]);
        Assert.Equal(11, report.Problems.Count);
        Assert.All(report.Problems.Where(p => p.Location.StartsWith("lstp.middle", StringComparison.Ordinal)), p => Assert.Equal(1, p.Line));
        // What the file holds as secrets is never repeated back.
        Assert.DoesNotContain(report.Problems, p => p.Message.Contains("the-tunnel-secret-91b", StringComparison.Ordinal) || p.Message.Contains("proxy-pass-5e", StringComparison.Ordinal));
    }

    [Fact]
    public void A_missing_secret_and_middle_are_problems_unless_the_environment_gives_them()
    {
        const string config = "lstp.end { name = x }";
        Assert.Equal(["lstp.end.middle", "lstp.end.secret"], ConfigCheck.Check(config).Problems.Select(p => p.Location));
        Assert.Empty(ConfigCheck.Check(config, new HashSet<string> { "LSTP__END__SECRET", "LSTP__END__MIDDLE__0" }).Problems);
    }

    [Fact]
    public void A_list_may_be_one_comma_separated_value_and_a_json_file_reads_too()
    {
        var problem = Assert.Single(ConfigCheck.Check("""{ "lstp": { "end": { "middle": "a:1, b:2", "secret": "s", "forward": "8080=web,9090" } } }""").Problems);
        Assert.Equal("lstp.end.forward[1]", problem.Location);
    }

    [Theory]
    [InlineData("lstp.end {\n  middle = [\"a:1\",\n  secret = x\n}\n", 2, "unterminated array")]
    [InlineData("lstp.end {\n  name = [x\n", 2, "unterminated array")]
    [InlineData("lstp.end {\n  name = x\n", 1, "unterminated object")]
    [InlineData("lstp.end {\n  name = \"x\n}\n", 2, "unterminated string")]
    [InlineData("lstp.end {\n  name = x\n}}\n", 3, "unexpected '}'")]
    [InlineData("lstp.end {\n  via = http://proxy:3128\n}\n", 2, "put a value that contains '//'")]
    [InlineData("lstp.end {\n  name = ${LSTP_TEST_SURELY_UNSET}\n}\n", 2, "is not set")]
    [InlineData("lstp.end {\n  bad key = 3\n}\n", 2, "expected '=', ':' or '{'")]
    public void A_broken_file_is_reported_with_its_line(string text, int line, string what)
    {
        // Akka's own parser hangs, overflows its stack or accepts several of these silently.
        var problem = Assert.Single(ConfigCheck.Check(text).Problems);
        Assert.Equal(line, problem.Line);
        Assert.Contains(what, problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unknown_section_is_named_with_a_suggestion()
    {
        var problem = Assert.Single(ConfigCheck.Check("lstp.ned { name = x }").Problems);
        Assert.Equal("lstp.ned", problem.Location);
        Assert.Contains("did you mean end?", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Off_loopback_admin_with_a_token_is_valid()
    {
        Assert.Empty(ConfigCheck.Check("lstp.middle { admin = \"0.0.0.0:7780\", admin-token = t }").Problems);
    }

    [Fact]
    public async Task The_command_exits_0_for_a_valid_file_and_2_with_one_line_per_problem()
    {
        await using (var valid = LstpProcess.Start("check", "--config", Path.Combine(Repository.Root, "hocon", "middle.conf")))
        {
            Assert.Equal(0, await valid.WaitForExitAsync());
            Assert.Contains(valid.Lines, l => l.EndsWith("middle.conf: valid (lstp.middle)", StringComparison.Ordinal));
        }
        var bad = Path.GetTempFileName();
        try
        {
            File.WriteAllText(bad, "lstp.end {\n  middle = [\"m:1\"]\n  secret-file = /nonexistent/secret\n  forward = [x]\n}\n");
            await using var invalid = LstpProcess.Start("check", "--config", bad);
            Assert.Equal(2, await invalid.WaitForExitAsync());
            Assert.Contains($"{bad}:3: lstp.end.secret-file: '/nonexistent/secret' does not exist", invalid.Lines);
            Assert.Contains(invalid.Lines, l => l.StartsWith($"{bad}:4: lstp.end.forward[0]: ", StringComparison.Ordinal));
            Assert.Contains($"{bad}: 2 problems", invalid.Lines);
        }
        finally
        {
            File.Delete(bad);
        }
    }

    [Fact]
    public async Task The_commands_refuse_a_broken_file_with_its_line_before_starting()
    {
        var bad = Path.GetTempFileName();
        try
        {
            File.WriteAllText(bad, "lstp.middle {\n  listen = [\"127.0.0.1:0\"\n");
            await using var middle = LstpProcess.Start("middle", "--config", bad);
            Assert.Equal(2, await middle.WaitForExitAsync());
            Assert.Contains(middle.Lines, l => l.Contains($"{bad}:2:", StringComparison.Ordinal) && l.Contains("unterminated array", StringComparison.Ordinal));
        }
        finally
        {
            File.Delete(bad);
        }
    }
}
