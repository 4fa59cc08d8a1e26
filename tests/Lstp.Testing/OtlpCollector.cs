using System.Collections.Concurrent;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Lstp.Testing;

/// <summary>
/// An OTLP/HTTP collector on loopback for tests: it answers every export with 200 and keeps each request's body by
/// path (<c>/v1/metrics</c>, <c>/v1/traces</c>). OTLP's protobuf carries names as plain UTF-8 strings, so a test looks
/// for a metric's, a span's or a node's name in the bytes without decoding them.
/// </summary>
public sealed class OtlpCollector : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<(string Path, byte[] Body)> _exports = new();

    private OtlpCollector(WebApplication app) => _app = app;

    /// <summary>What a node's --otlp takes.</summary>
    public string Url => _app.Urls.Single();

    public static async Task<OtlpCollector> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var collector = new OtlpCollector(app);
        app.MapPost("/v1/{signal}", async (HttpContext context) =>
        {
            using var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            collector._exports.Enqueue((context.Request.Path.Value!, body.ToArray()));
            context.Response.ContentType = "application/x-protobuf";
            return Results.Bytes([], "application/x-protobuf");
        });
        await app.StartAsync();
        return collector;
    }

    /// <summary>True once some export to <paramref name="path"/> held <paramref name="name"/>.</summary>
    public bool Received(string path, string name)
    {
        var bytes = Encoding.UTF8.GetBytes(name);
        return _exports.Any(e => e.Path == path && e.Body.AsSpan().IndexOf(bytes) >= 0);
    }

    public int Exports(string path) => _exports.Count(e => e.Path == path);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
