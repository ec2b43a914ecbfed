using CausalTap.Grpc;
using CausalTap.Grpc.Server;
using CausalTap.Protocol.V1;
using Grpc.Health.V1;

namespace CausalTap.Server;

/// <summary>
/// grpc.health.v1.Health: "" (the whole server) and "causaltap.v1.Tracker" are SERVING until shutdown starts, then
/// NOT_SERVING. Check on any other name is NOT_FOUND; Watch on another name reports SERVICE_UNKNOWN (as the health
/// protocol says) and stays open. Health calls never need the auth token: probes have none.
/// </summary>
internal sealed class HealthService
{
    /// <summary>Completed and replaced on every status change; Watch calls wait on it.</summary>
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _serving = true;
    private readonly CancellationTokenSource _stopped = new();

    public bool Serving => _serving;

    /// <summary>Shutdown has begun: report NOT_SERVING (load balancers stop sending new work).</summary>
    public void SetNotServing()
    {
        _serving = false;
        Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>The server is about to stop: end Watch streams (with OK) so the host does not wait on them.</summary>
    public void Stop() => _stopped.Cancel();

    public void Register(GrpcServiceRegistry registry)
    {
        registry.AddUnary(TrackerMethods.HealthCheck, CheckAsync);
        registry.AddServerStreaming(TrackerMethods.HealthWatch, WatchAsync);
    }

    private static bool IsKnown(string service) => service is "" or TrackerMethods.ServiceName;

    private HealthCheckResponse.Types.ServingStatus Current =>
        _serving ? HealthCheckResponse.Types.ServingStatus.Serving : HealthCheckResponse.Types.ServingStatus.NotServing;

    private Task<HealthCheckResponse> CheckAsync(HealthCheckRequest request, ServerCallContext context)
    {
        if (!IsKnown(request.Service)) throw new RpcException(StatusCode.NotFound, $"unknown service '{request.Service}'");
        return Task.FromResult(new HealthCheckResponse { Status = Current });
    }

    private async Task WatchAsync(HealthCheckRequest request, IServerStreamWriter<HealthCheckResponse> writer, ServerCallContext context)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(context.CancellationToken, _stopped.Token);
        if (!IsKnown(request.Service))
        {
            await writer.WriteAsync(new HealthCheckResponse { Status = HealthCheckResponse.Types.ServingStatus.ServiceUnknown }).ConfigureAwait(false);
            await WaitQuietly(Task.Delay(Timeout.Infinite, linked.Token)).ConfigureAwait(false);
            return;
        }
        HealthCheckResponse.Types.ServingStatus? sent = null;
        while (!linked.IsCancellationRequested)
        {
            Task changed = Volatile.Read(ref _changed).Task;
            HealthCheckResponse.Types.ServingStatus now = Current;
            if (sent != now)
            {
                await writer.WriteAsync(new HealthCheckResponse { Status = now }).ConfigureAwait(false);
                sent = now;
            }
            await WaitQuietly(changed.WaitAsync(linked.Token)).ConfigureAwait(false);
        }
    }

    private static async Task WaitQuietly(Task task)
    {
        try
        {
            await task.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
    }
}
