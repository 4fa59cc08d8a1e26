using Lstp.Middle;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Lstp.Admin;

/// <summary>The middle's admin routes: health, Prometheus metrics, and the JSON API of tunnels.</summary>
public static class AdminEndpoints
{
    public static IEndpointRouteBuilder MapLstpAdmin(this IEndpointRouteBuilder routes, MiddleNode node)
    {
        routes.MapGet("/healthz", () => Results.Text("ok\n"));
        routes.MapGet("/metrics", () => Results.Text(PrometheusText.Render(node), "text/plain; version=0.0.4"));
        routes.MapGet("/api/tunnels", () => Results.Json(node.Tunnels.Snapshot().Select(TunnelView.From)));
        routes.MapGet("/api/status", () => Results.Json(StatusView.From(node)));
        return routes;
    }
}
