using Lstp.Cli.Commands;
using Lstp.Testing;
using Xunit;

namespace Lstp.Admin.Tests.Check;

/// <summary>`lstp check --config FILE`: every problem with its JSON path, exit 0 when valid and 2 otherwise.</summary>
public sealed class CheckCommandTests
{
    [Theory]
    [InlineData("middle.json", "Middle")]
    [InlineData("end-server.json", "End")]
    [InlineData("end-client.json", "End")]
    public void The_example_configs_are_valid(string file, string section)
    {
        var report = ConfigCheck.Check(File.ReadAllText(Path.Combine(Repository.Root, "config", file)));
        Assert.Empty(report.Problems);
        Assert.Equal([section], report.Sections);
    }

    [Fact]
    public void Every_problem_is_reported_with_its_location()
    {
        var report = ConfigCheck.Check("""
            {
              "Middle": { "Listen": "0.0.0.0:99999", "Admin": "0.0.0.0:7780", "WaitExpiry": -1, "Nmae": "x" },
              "End": {
                "Middles": [ "relay:7700", "nowhere" ],
                "Secret": "the-tunnel-secret-91b",
                "Via": "socks5://alice:proxy-pass-5e@proxy",
                "Services": [ "web=10.0.0.1:80", "web=10.0.0.2:80" ],
                "Forwards": [ "8080=web", "80" ],
                "Allow": [ "10.0.0.0/8:443", "*:" ],
                "Plaintext": "yes"
              }
            }
            """);
        var problems = report.Problems.ToDictionary(p => p.Location, p => p.Message);
        Assert.Contains("invalid port", problems["Middle.Listen"], StringComparison.Ordinal);
        Assert.Contains("not a loopback address", problems["Middle.Admin"], StringComparison.Ordinal);
        Assert.Contains("positive number of seconds", problems["Middle.WaitExpiry"], StringComparison.Ordinal);
        Assert.Contains("did you mean Name?", problems["Middle.Nmae"], StringComparison.Ordinal);
        Assert.Contains("has no port", problems["End.Middles[1]"], StringComparison.Ordinal);
        Assert.Contains("has no port", problems["End.Via"], StringComparison.Ordinal);
        Assert.Contains("offered twice", problems["End.Services[1]"], StringComparison.Ordinal);
        Assert.Equal("'80': expected [HOST:]PORT=SERVICE", problems["End.Forwards[1]"]);
        Assert.StartsWith("'*:'", problems["End.Allow[1]"], StringComparison.Ordinal);
        Assert.Contains("not true or false", problems["End.Plaintext"], StringComparison.Ordinal);
        Assert.Equal(10, report.Problems.Count);
        // What the file holds as secrets is never repeated back.
        Assert.DoesNotContain(report.Problems, p => p.Message.Contains("the-tunnel-secret-91b", StringComparison.Ordinal) || p.Message.Contains("proxy-pass-5e", StringComparison.Ordinal));
    }

    [Fact]
    public void A_missing_secret_and_middle_are_problems_unless_the_environment_gives_them()
    {
        const string config = """{ "End": { "Name": "x" } }""";
        Assert.Equal(["End.Middles", "End.Secret"], ConfigCheck.Check(config).Problems.Select(p => p.Location));
        Assert.Empty(ConfigCheck.Check(config, new HashSet<string> { "LSTP__END__SECRET", "LSTP__END__MIDDLES__0" }).Problems);
    }

    [Fact]
    public void Keys_are_read_case_insensitively_and_lists_may_be_comma_separated_as_dotnet_configuration_reads_them()
    {
        var report = ConfigCheck.Check("""{ "end": { "middles": "a:1, b:2", "secret": "s", "forwards": "8080=web,9090" } }""");
        var problem = Assert.Single(report.Problems);
        Assert.Equal("end.forwards[1]", problem.Location);
    }

    [Fact]
    public void Broken_json_is_reported_with_its_line_and_column()
    {
        var problem = Assert.Single(ConfigCheck.Check("{\n  \"Middle\": {\n    \"Listen\" \"x\"\n  }\n}").Problems);
        Assert.Equal("line 3, column 14", problem.Location);
        Assert.StartsWith("not valid JSON", problem.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_key_given_twice_is_a_problem()
    {
        var problem = Assert.Single(ConfigCheck.Check("""{ "Middle": { "Name": "a", "name": "b" } }""").Problems);
        Assert.Equal("Middle.name", problem.Location);
    }

    [Fact]
    public void Off_loopback_admin_with_a_token_is_valid()
    {
        Assert.Empty(ConfigCheck.Check("""{ "Middle": { "Admin": "0.0.0.0:7780", "AdminToken": "t" } }""").Problems);
    }

    [Fact]
    public async Task The_command_exits_0_for_a_valid_file_and_2_with_one_line_per_problem()
    {
        await using (var valid = LstpProcess.Start("check", "--config", Path.Combine(Repository.Root, "config", "middle.json")))
        {
            Assert.Equal(0, await valid.WaitForExitAsync());
            Assert.Contains(valid.Lines, l => l.EndsWith("middle.json: valid (Middle)", StringComparison.Ordinal));
        }
        var bad = Path.GetTempFileName();
        try
        {
            File.WriteAllText(bad, """{ "End": { "Middles": ["m:1"], "SecretFile": "/nonexistent/secret", "Forwards": ["x"] } }""");
            await using var invalid = LstpProcess.Start("check", "--config", bad);
            Assert.Equal(2, await invalid.WaitForExitAsync());
            Assert.Contains($"{bad}: End.SecretFile: '/nonexistent/secret' does not exist", invalid.Lines);
            Assert.Contains(invalid.Lines, l => l.StartsWith($"{bad}: End.Forwards[0]: ", StringComparison.Ordinal));
            Assert.Contains($"{bad}: 2 problems", invalid.Lines);
        }
        finally
        {
            File.Delete(bad);
        }
    }
}
