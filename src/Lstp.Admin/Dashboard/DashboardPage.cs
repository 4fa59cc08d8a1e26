using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http;

namespace Lstp.Admin.Dashboard;

/// <summary>
/// Serves the dashboard: one static page embedded in this assembly (Dashboard/index.html), its script and
/// style inline. The Content-Security-Policy allows exactly those two blocks by hash, so nothing an end
/// names itself can ever run as script, even if the page had a bug.
/// </summary>
public static partial class DashboardPage
{
    private const string Resource = "Lstp.Admin.Dashboard.index.html";

    private static readonly Lazy<(byte[] Html, string Policy)> Page = new(Load);

    /// <summary>The page's bytes, as served.</summary>
    public static ReadOnlyMemory<byte> Html => Page.Value.Html;

    public static async Task ServeAsync(HttpContext context)
    {
        var (html, policy) = Page.Value;
        var headers = context.Response.Headers;
        headers.ContentSecurityPolicy = policy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        // The page may be opened with ?token=: keep that URL out of caches and out of Referer headers.
        headers.CacheControl = "no-store";
        headers["Referrer-Policy"] = "no-referrer";
        context.Response.ContentType = "text/html; charset=utf-8";
        await context.Response.Body.WriteAsync(html, context.RequestAborted).ConfigureAwait(false);
    }

    private static (byte[], string) Load()
    {
        using var stream = typeof(DashboardPage).Assembly.GetManifestResourceStream(Resource)
            ?? throw new InvalidOperationException($"the dashboard page ({Resource}) is not embedded in {typeof(DashboardPage).Assembly.GetName().Name}");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var text = reader.ReadToEnd();
        var policy = string.Join("; ",
            "default-src 'none'",
            $"script-src {Hashes(ScriptBlock(), text)}",
            $"style-src {Hashes(StyleBlock(), text)}",
            "connect-src 'self'",
            "img-src 'self' data:",
            "base-uri 'none'",
            "form-action 'none'",
            "frame-ancestors 'none'");
        return (Encoding.UTF8.GetBytes(text), policy);
    }

    /// <summary>CSP source expressions for each inline block: 'sha256-' and the base64 digest of its exact text (CSP3 §8.4).</summary>
    private static string Hashes(Regex block, string html)
    {
        var hashes = block.Matches(html).Select(m => $"'sha256-{Convert.ToBase64String(SHA256.HashData(Encoding.UTF8.GetBytes(m.Groups[1].Value)))}'").ToList();
        return hashes.Count == 0 ? "'none'" : string.Join(' ', hashes);
    }

    [GeneratedRegex("<script>(.*?)</script>", RegexOptions.Singleline)]
    private static partial Regex ScriptBlock();

    [GeneratedRegex("<style>(.*?)</style>", RegexOptions.Singleline)]
    private static partial Regex StyleBlock();
}
