using System.Diagnostics.Metrics;
using Lstp.Transport.Telemetry;
using Microsoft.AspNetCore.Builder;
using OpenTelemetry;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;

namespace Lstp.Admin.Telemetry;

/// <summary>
/// One node's OpenTelemetry (docs/observability.md): its own meter with the .NET runtime's and the process's figures,
/// collected for Prometheus at /metrics and, with --otlp, pushed over OTLP/HTTP together with the setup spans. Made when
/// the node starts, before its first link, so that nothing it records is missed; disposing it sends what is pending.
/// </summary>
public sealed class NodeTelemetry : IDisposable
{
    private NodeTelemetry(MeterProvider meters, TracerProvider? traces)
    {
        Meters = meters;
        Traces = traces;
    }

    /// <summary>The provider the Prometheus scrape endpoint collects from.</summary>
    public MeterProvider Meters { get; }

    /// <summary>Exports spans over OTLP; null without --otlp (spans are still timed for /api/end).</summary>
    public TracerProvider? Traces { get; }

    /// <summary>
    /// The runtime's instruments whose names end in <c>.count</c> without counting events: Prometheus reads a
    /// <c>_count</c> suffix as part of a histogram, and `promtool check metrics` refuses them on a gauge.
    /// </summary>
    private static readonly (string Instrument, string Name)[] Renamed =
    [
        ("dotnet.assembly.count", "dotnet.assemblies.loaded"),
        ("dotnet.process.cpu.count", "dotnet.process.cpus"),
        ("dotnet.thread_pool.thread.count", "dotnet.thread_pool.threads"),
        ("dotnet.timer.count", "dotnet.timers"),
        ("process.thread.count", "process.threads"),
        ("process.unix.file_descriptor.count", "process.open_fds"),
    ];

    /// <summary>
    /// Starts collecting <paramref name="meter"/> (and no other meter of its name: another node's in this process) as
    /// <paramref name="service"/> (lstp-middle, lstp-end) named <paramref name="node"/>, exporting to
    /// <paramref name="otlp"/> when given.
    /// </summary>
    public static NodeTelemetry Start(Meter meter, string service, string node, Uri? otlp)
    {
        var resource = ResourceBuilder.CreateEmpty().AddService(service, serviceVersion: typeof(NodeTelemetry).Assembly.GetName().Version?.ToString(), serviceInstanceId: node);
        var metrics = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(resource)
            .AddMeter(meter.Name)
            .AddView(instrument => instrument.Meter.Name == meter.Name && instrument.Meter != meter ? MetricStreamConfiguration.Drop : null)
            .AddRuntimeInstrumentation()
            .AddProcessInstrumentation();
        foreach (var (instrument, name) in Renamed) metrics.AddView(instrument, name);
        metrics.AddPrometheusExporter(prometheus =>
        {
            // Each series as Prometheus expects it, without the meter's name on every line; collected afresh on
            // every scrape (a scrape is rare, and a cached answer would hide a change a test or an operator just made).
            prometheus.ScopeInfoEnabled = false;
            prometheus.ScrapeResponseCacheDurationMilliseconds = 0;
        });
        TracerProvider? traces = null;
        if (otlp is not null)
        {
            metrics.AddOtlpExporter((exporter, _) => Export(exporter, otlp, "v1/metrics"));
            traces = Sdk.CreateTracerProviderBuilder()
                .SetResourceBuilder(resource)
                .AddSource(TelemetryNames.Source)
                .AddOtlpExporter(exporter => Export(exporter, otlp, "v1/traces"))
                .Build();
        }
        return new NodeTelemetry(metrics.Build(), traces);
    }

    /// <summary>OTLP over HTTP with protobuf (port 4318 by convention): each signal has its own path under the collector's URL.</summary>
    private static void Export(OtlpExporterOptions exporter, Uri collector, string signal)
    {
        exporter.Protocol = OtlpExportProtocol.HttpProtobuf;
        exporter.Endpoint = new Uri($"{collector.AbsoluteUri.TrimEnd('/')}/{signal}");
    }

    /// <summary>Serves this node's metrics at /metrics in the Prometheus text format, behind whatever guards the app installed first.</summary>
    public void MapScrapeEndpoint(IApplicationBuilder app) =>
        app.UseOpenTelemetryPrometheusScrapingEndpoint(Meters, predicate: null, path: "/metrics", configureBranchedPipeline: null, optionsName: null);

    /// <summary>Flushes to the collector (a last export of metrics and spans), then stops.</summary>
    public void Dispose()
    {
        Traces?.Dispose();
        Meters.Dispose();
    }
}
