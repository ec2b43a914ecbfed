using Grpc.Core;
using CausalTap.Protocol.V1;
using Grpc.Health.V1;

namespace CausalTap.Server;

/// <summary>
/// grpc.health.v1.Health (the generated base from Grpc.HealthCheck): "" (the whole server) and
/// "causaltap.v1.Tracker" are NOT_SERVING until the default model is loaded, SERVING then, and NOT_SERVING again
/// once shutdown starts. Check on any other name is NOT_FOUND; Watch on another name reports SERVICE_UNKNOWN (as the
/// health protocol says) and stays open. Health calls never need the auth token: probes have none.
/// Not Grpc.HealthCheck's HealthServiceImpl: its Watch streams end only when the client goes, so a graceful
/// shutdown would wait out its whole timeout on any open watcher; <see cref="Stop"/> ends them.
/// </summary>
internal sealed class HealthService : Health.HealthBase
{
    /// <summary>Completed and replaced on every status change; Watch calls wait on it.</summary>
    private TaskCompletionSource _changed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile bool _serving;
    private readonly CancellationTokenSource _stopped = new();

    public bool Serving => _serving;

    /// <summary>The models are loaded: report SERVING.</summary>
    public void SetServing() => Set(true);

    /// <summary>Shutdown has begun: report NOT_SERVING (load balancers stop sending new work).</summary>
    public void SetNotServing() => Set(false);

    private void Set(bool serving)
    {
        _serving = serving;
        Interlocked.Exchange(ref _changed, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
    }

    /// <summary>The server is about to stop: end Watch streams (with OK) so the host does not wait on them.</summary>
    public void Stop() => _stopped.Cancel();

    private static bool IsKnown(string service) => service is "" || service == Tracker.Descriptor.FullName;

    private HealthCheckResponse.Types.ServingStatus Current =>
        _serving ? HealthCheckResponse.Types.ServingStatus.Serving : HealthCheckResponse.Types.ServingStatus.NotServing;

    public override Task<HealthCheckResponse> Check(HealthCheckRequest request, ServerCallContext context)
    {
        if (!IsKnown(request.Service)) throw new RpcException(new Status(StatusCode.NotFound, $"unknown service '{request.Service}'"));
        return Task.FromResult(new HealthCheckResponse { Status = Current });
    }

    public override async Task Watch(HealthCheckRequest request, IServerStreamWriter<HealthCheckResponse> writer, ServerCallContext context)
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
