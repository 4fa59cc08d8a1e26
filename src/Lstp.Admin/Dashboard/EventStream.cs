using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace Lstp.Admin.Dashboard;

/// <summary>
/// /api/events: server-sent events (HTML Living Standard §9.2), one <c>data:</c> message with the status JSON
/// per tick, until the viewer leaves or the middle stops.
/// </summary>
public static class EventStream
{
    public static async Task ServeAsync(HttpContext context, StatusFeed feed)
    {
        var response = context.Response;
        if (!feed.TryOpenStream())
        {
            response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            await response.WriteAsync($"too many event streams open (limit {AdminLimits.EventStreams})\n", context.RequestAborted).ConfigureAwait(false);
            return;
        }
        var stopping = context.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        using var done = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        try
        {
            response.ContentType = "text/event-stream";
            response.Headers.CacheControl = "no-store";
            response.Headers["X-Accel-Buffering"] = "no"; // a reverse proxy in front must not hold events back
            await response.WriteAsync($"retry: {AdminLimits.EventRetryMilliseconds}\n\n", done.Token).ConfigureAwait(false);
            long version = 0;
            while (true)
            {
                var published = await feed.NextAsync(version, done.Token).ConfigureAwait(false);
                version = published.Version;
                await response.Body.WriteAsync(published.Event, done.Token).ConfigureAwait(false);
                await response.Body.FlushAsync(done.Token).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException)
        {
            // The viewer went away, or the middle is stopping.
        }
        finally
        {
            feed.CloseStream();
        }
    }
}
