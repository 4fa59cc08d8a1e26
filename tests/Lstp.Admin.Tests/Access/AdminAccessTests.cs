using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Lstp.Admin.Access;
using Lstp.Middle;
using Lstp.Testing;
using Lstp.Transport;
using Xunit;
using Xunit.Abstractions;

namespace Lstp.Admin.Tests.Access;

/// <summary>The admin endpoint listens on loopback unless it has credentials, and then refuses whoever lacks them.</summary>
public sealed class AdminAccessTests(ITestOutputHelper output)
{
    private const string Token = "admin-token-7f3a9c";

    private static MiddleOptions Options(string adminHost) => new() { Listen = new HostPort("127.0.0.1", 0), Admin = new HostPort(adminHost, 0), Name = "m" };

    [Fact]
    public async Task Admin_off_loopback_without_credentials_refuses_to_start_and_says_why()
    {
        var error = await Assert.ThrowsAsync<ArgumentException>(() => MiddleHost.StartAsync(Options("0.0.0.0"), new TestLog(output)));
        Assert.Contains("--admin 0.0.0.0:0 is not a loopback address", error.Message, StringComparison.Ordinal);
        Assert.Contains("--admin-token", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Admin_on_another_loopback_address_needs_no_credentials()
    {
        // 127.0.0.2 is loopback (all of 127/8 is), though not 127.0.0.1.
        await using var middle = await MiddleHost.StartAsync(Options("127.0.0.2"), new TestLog(output));
        using var http = new HttpClient();
        var response = await http.GetAsync($"http://{middle.AdminAddress}/api/tunnels");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Theory]
    [InlineData("attacker.example", HttpStatusCode.MisdirectedRequest)]
    [InlineData("127.0.0.1.nip.example", HttpStatusCode.MisdirectedRequest)]
    [InlineData("localhost", HttpStatusCode.OK)]
    [InlineData("127.0.0.1", HttpStatusCode.OK)]
    [InlineData("[::1]", HttpStatusCode.OK)]
    public async Task A_loopback_admin_without_credentials_answers_only_requests_addressed_to_loopback(string host, HttpStatusCode expected)
    {
        // DNS rebinding: a page from attacker.example, its name now resolving to 127.0.0.1, sends Host: attacker.example.
        await using var middle = await MiddleHost.StartAsync(Options("127.0.0.1"), new TestLog(output));
        using var http = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{middle.AdminAddress!.Value.Port}/api/status");
        request.Headers.Host = $"{host}:{middle.AdminAddress!.Value.Port}";

        var response = await http.SendAsync(request);

        Assert.Equal(expected, response.StatusCode);
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/api/tunnels")]
    [InlineData("/api/status")]
    [InlineData("/api/events")]
    [InlineData("/metrics")]
    public async Task Admin_off_loopback_refuses_requests_without_the_token(string path)
    {
        await using var middle = await MiddleHost.StartAsync(Options("0.0.0.0"), new TestLog(output), new AdminAccess { Token = Token });
        var url = $"http://127.0.0.1:{middle.AdminAddress!.Value.Port}{path}";
        using var http = new HttpClient();

        var none = await http.GetAsync(url, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.Contains("Bearer", none.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(Token, await none.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        using var wrong = new HttpRequestMessage(HttpMethod.Get, url) { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", Token + "x") } };
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.SendAsync(wrong, HttpCompletionOption.ResponseHeadersRead)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await http.GetAsync(url + "?token=nope", HttpCompletionOption.ResponseHeadersRead)).StatusCode);

        using var bearer = new HttpRequestMessage(HttpMethod.Get, url) { Headers = { Authorization = new AuthenticationHeaderValue("Bearer", Token) } };
        using var allowed = await http.SendAsync(bearer, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, allowed.StatusCode);
        using var query = await http.GetAsync($"{url}?token={Token}", HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, query.StatusCode);
    }

    [Fact]
    public async Task Health_stays_open_for_health_checkers_and_says_only_ok()
    {
        await using var middle = await MiddleHost.StartAsync(Options("0.0.0.0"), new TestLog(output), new AdminAccess { Token = Token });
        using var http = new HttpClient();
        Assert.Equal("ok\n", await http.GetStringAsync($"http://127.0.0.1:{middle.AdminAddress!.Value.Port}/healthz"));
    }

    [Fact]
    public async Task Basic_credentials_open_the_endpoint_and_wrong_ones_do_not()
    {
        var access = new AdminAccess { User = "ops", Password = "pa55-word-basic" };
        await using var middle = await MiddleHost.StartAsync(Options("0.0.0.0"), new TestLog(output), access);
        var url = $"http://127.0.0.1:{middle.AdminAddress!.Value.Port}/api/status";
        using var http = new HttpClient();

        var none = await http.GetAsync(url);
        Assert.Equal(HttpStatusCode.Unauthorized, none.StatusCode);
        Assert.StartsWith("Basic", none.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Unauthorized, (await GetWithBasicAsync(http, url, "ops:wrong")).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await GetWithBasicAsync(http, url, "ops:pa55-word-basic")).StatusCode);
    }

    [Fact]
    public async Task A_token_does_not_open_a_basic_only_endpoint()
    {
        await using var middle = await MiddleHost.StartAsync(Options("0.0.0.0"), new TestLog(output), new AdminAccess { User = "ops", Password = "pw" });
        using var http = new HttpClient();
        var response = await http.GetAsync($"http://127.0.0.1:{middle.AdminAddress!.Value.Port}/api/status?token=pw");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Theory]
    [InlineData("127.0.0.1", true)]
    [InlineData("127.0.0.2", true)]
    [InlineData("127.255.255.254", true)]
    [InlineData("::1", true)]
    [InlineData("::ffff:127.0.0.1", true)]
    [InlineData("0.0.0.0", false)]
    [InlineData("::", false)]
    [InlineData("10.0.0.1", false)]
    [InlineData("192.168.1.10", false)]
    public void Loopback_is_all_of_127_slash_8_and_ipv6_loopback(string address, bool loopback) =>
        Assert.Equal(loopback, Loopback.Is(IPAddress.Parse(address)));

    [Theory]
    [InlineData(" ", null, null, "admin token is empty")]
    [InlineData(null, "ops", null, "needs a non-empty password")]
    [InlineData(null, "o:ps", "pw", "no ':'")]
    [InlineData(null, null, "pw", "needs an admin user")]
    public void Credentials_that_could_never_be_presented_are_refused(string? token, string? user, string? password, string says)
    {
        var error = Assert.Throws<ArgumentException>(() => new AdminAccess { Token = token, User = user, Password = password }.Validate());
        Assert.Contains(says, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Printing_the_access_settings_shows_no_token_or_password()
    {
        var text = new AdminAccess { Token = Token, User = "ops", Password = "pa55-word-basic" }.ToString();
        Assert.DoesNotContain(Token, text, StringComparison.Ordinal);
        Assert.DoesNotContain("pa55-word-basic", text, StringComparison.Ordinal);
    }

    private static Task<HttpResponseMessage> GetWithBasicAsync(HttpClient http, string url, string userPass)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, url)
        {
            Headers = { Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(userPass))) },
        };
        return http.SendAsync(request);
    }
}
