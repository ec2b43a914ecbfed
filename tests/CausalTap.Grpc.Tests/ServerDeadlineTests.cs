using CausalTap.Grpc.Server;
using Google.Protobuf.WellKnownTypes;

namespace CausalTap.Grpc.Tests;

/// <summary>grpc-timeout handling: a manual clock for exact behaviour, one real timeout as a smoke test.</summary>
public class ServerDeadlineTests
{
    private static readonly Method<StringValue, StringValue> Echo = ServerUnaryTests.Echo;
    private static readonly Method<Int32Value, Int32Value> Count = new(MethodType.ServerStreaming, "test.Deadline", "Count");

    private static HttpRequestMessage WithTimeout(HttpRequestMessage request, string timeout)
    {
        request.Headers.TryAddWithoutValidation("grpc-timeout", timeout);
        return request;
    }

    [Fact]
    public async Task Deadline_on_a_manual_clock_cancels_the_handler_and_ends_with_deadline_exceeded()
    {
        var clock = new ManualTimeProvider();
        var started = new TaskCompletionSource<ServerCallContext>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var h = await ServerTestHarness.StartAsync(r => r.AddUnary(Echo, async (req, ctx) =>
        {
            started.SetResult(ctx);
            await Task.Delay(System.Threading.Timeout.Infinite, ctx.CancellationToken);
            return req;
        }), new GrpcServerOptions { TimeProvider = clock });

        Task<HttpResponseMessage> send = h.SendAsync(WithTimeout(ServerTestHarness.CreateRequest(Echo.FullName, new StringValue()), "5S"));
        ServerCallContext ctx = await started.Task.WaitAsync(ServerTestHarness.Timeout);
        Assert.Equal(clock.GetUtcNow().UtcDateTime.AddSeconds(5), ctx.Deadline);

        clock.Advance(TimeSpan.FromSeconds(4.9));
        Assert.False(ctx.CancellationToken.IsCancellationRequested); // not due yet: the timer did not fire
        clock.Advance(TimeSpan.FromSeconds(0.1));

        using var response = await send.WaitAsync(ServerTestHarness.Timeout);
        var result = await ServerTestHarness.ReadToEndAsync(response, StringValue.Parser);
        Assert.True(ctx.CancellationToken.IsCancellationRequested);
        Assert.Equal(StatusCode.DeadlineExceeded, result.StatusCode);
        Assert.True(result.TrailersOnly);
    }

    [Fact]
    public async Task Deadline_status_reaches_the_client_even_when_the_handler_ignores_its_token()
    {
        var clock = new ManualTimeProvider();
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var lateWrite = new TaskCompletionSource<Exception?>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var h = await ServerTestHarness.StartAsync(r => r.AddServerStreaming(Count, async (req, stream, ctx) =>
        {
            await stream.WriteAsync(new Int32Value { Value = 1 });
            await gate.Task; // deliberately ignores ctx.CancellationToken
            try { await stream.WriteAsync(new Int32Value { Value = 2 }); lateWrite.SetResult(null); }
            catch (Exception ex) { lateWrite.SetResult(ex); }
        }), new GrpcServerOptions { TimeProvider = clock });

        try
        {
            using var response = await h.SendAsync(WithTimeout(ServerTestHarness.CreateRequest(Count.FullName, new Int32Value()), "1S"));
            Stream body = await response.Content.ReadAsStreamAsync();
            Assert.Equal(1, (await ServerTestHarness.ReadMessageAsync(body, Int32Value.Parser))!.Value);

            clock.Advance(TimeSpan.FromSeconds(1));

            Assert.Null(await ServerTestHarness.ReadMessageAsync(body, Int32Value.Parser));
            Assert.Equal("4", GrpcResult<Int32Value>.Header(response.TrailingHeaders, "grpc-status"));
            Assert.Equal("Deadline Exceeded", GrpcResult<Int32Value>.Header(response.TrailingHeaders, "grpc-message"));
        }
        finally
        {
            gate.TrySetResult();
        }
        Assert.IsType<InvalidOperationException>(await lateWrite.Task.WaitAsync(ServerTestHarness.Timeout));
    }

    [Fact]
    public async Task Max_timeout_caps_the_clients_timeout()
    {
        var clock = new ManualTimeProvider();
        var started = new TaskCompletionSource<ServerCallContext>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var h = await ServerTestHarness.StartAsync(r => r.AddUnary(Echo, async (req, ctx) =>
        {
            started.SetResult(ctx);
            await Task.Delay(System.Threading.Timeout.Infinite, ctx.CancellationToken);
            return req;
        }), new GrpcServerOptions { TimeProvider = clock, MaxTimeout = TimeSpan.FromSeconds(2) });

        Task<HttpResponseMessage> send = h.SendAsync(WithTimeout(ServerTestHarness.CreateRequest(Echo.FullName, new StringValue()), "1H"));
        ServerCallContext ctx = await started.Task.WaitAsync(ServerTestHarness.Timeout);
        Assert.Equal(clock.GetUtcNow().UtcDateTime.AddSeconds(2), ctx.Deadline);
        clock.Advance(TimeSpan.FromSeconds(2));

        using var response = await send.WaitAsync(ServerTestHarness.Timeout);
        Assert.Equal(StatusCode.DeadlineExceeded, (await ServerTestHarness.ReadToEndAsync(response, StringValue.Parser)).StatusCode);
    }

    [Fact]
    public async Task Real_short_timeout_ends_a_slow_call_with_deadline_exceeded()
    {
        await using var h = await ServerTestHarness.StartAsync(r => r.AddUnary(Echo, async (req, ctx) =>
        {
            await Task.Delay(TimeSpan.FromSeconds(30), ctx.CancellationToken);
            return req;
        }));

        var watch = System.Diagnostics.Stopwatch.StartNew();
        using var response = await h.SendAsync(WithTimeout(ServerTestHarness.CreateRequest(Echo.FullName, new StringValue()), "200m"));
        var result = await ServerTestHarness.ReadToEndAsync(response, StringValue.Parser);

        Assert.Equal(StatusCode.DeadlineExceeded, result.StatusCode);
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(150), TimeSpan.FromSeconds(10));
    }

    [Theory]
    [InlineData("abc")]
    [InlineData("123456789S")]
    [InlineData("10x")]
    public async Task Malformed_timeout_is_ignored(string timeout)
    {
        DateTime deadline = default;
        await using var h = await ServerTestHarness.StartAsync(r => r.AddUnary(Echo, (req, ctx) =>
        {
            deadline = ctx.Deadline;
            return Task.FromResult(req);
        }));

        using var response = await h.SendAsync(WithTimeout(ServerTestHarness.CreateRequest(Echo.FullName, new StringValue { Value = "x" }), timeout));
        var result = await ServerTestHarness.ReadToEndAsync(response, StringValue.Parser);

        Assert.Equal(StatusCode.OK, result.StatusCode);
        Assert.Equal(DateTime.MaxValue, deadline);
    }
}
