using Lstp.Admin.Dashboard;
using Lstp.Middle;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Lstp.Admin;

/// <summary>
/// The middle's admin routes: the dashboard, health, the JSON API and its live event stream. Its Prometheus /metrics
/// is OpenTelemetry's scrape endpoint (<see cref="Telemetry.NodeTelemetry.MapScrapeEndpoint"/>).
/// </summary>
public static class AdminEndpoints
{
    public static IEndpointRouteBuilder MapLstpAdmin(this IEndpointRouteBuilder routes, MiddleNode node, StatusFeed feed)
    {
        routes.MapGet("/", DashboardPage.ServeAsync);
        routes.MapGet("/healthz", () => Results.Text("ok\n"));
        routes.MapGet("/api/tunnels", () => Results.Json(feed.Tunnels()));
        routes.MapGet("/api/status", () => Results.Json(feed.Build()));
        routes.MapGet("/api/events", (HttpContext context) => EventStream.ServeAsync(context, feed));
        return routes;
    }
}
