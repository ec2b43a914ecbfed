namespace CausalTap.Grpc.Server;

/// <summary>
/// The grpc-timeout timer of one call. Runs on <see cref="TimeProvider"/> so tests drive it with a manual
/// clock; on expiry it hands over to <see cref="HttpContextServerCallContext.OnDeadlineExceededAsync"/>.
/// </summary>
internal sealed class ServerCallDeadline : IAsyncDisposable
{
    /// <summary>
    /// Longest due time a system timer accepts (~49.7 days). A longer timeout cannot matter for one call,
    /// so no timer is armed for it.
    /// </summary>
    private static readonly TimeSpan MaxTimerDueTime = TimeSpan.FromMilliseconds(uint.MaxValue - 1);

    /// <summary>The call to end when the timer fires.</summary>
    private readonly HttpContextServerCallContext _context;
    /// <summary>Clock and timer factory.</summary>
    private readonly TimeProvider _timeProvider;
    /// <summary>The (possibly capped) timeout the client asked for.</summary>
    private readonly TimeSpan _timeout;
    /// <summary>Guards <see cref="_timer"/>, <see cref="_expiry"/> and <see cref="_disposed"/>.</summary>
    private readonly object _lock = new();
    private ITimer? _timer;
    /// <summary>The work started by the timer; awaited on dispose so the call never ends under it.</summary>
    private Task? _expiry;
    private bool _disposed;
    private int _exceeded;

    public ServerCallDeadline(HttpContextServerCallContext context, TimeProvider timeProvider, TimeSpan timeout)
    {
        _context = context;
        _timeProvider = timeProvider;
        _timeout = timeout < TimeSpan.Zero ? TimeSpan.Zero : timeout;
        DateTime now = timeProvider.GetUtcNow().UtcDateTime;
        Deadline = _timeout >= DateTime.MaxValue - now ? DateTime.MaxValue : now + _timeout;
    }

    /// <summary>The absolute deadline (UTC).</summary>
    public DateTime Deadline { get; }

    /// <summary>True once the timer fired; the call's status is then DEADLINE_EXCEEDED whatever the handler does.</summary>
    public bool IsExceeded => Volatile.Read(ref _exceeded) != 0;

    public void Start()
    {
        if (_timeout > MaxTimerDueTime) return;
        ITimer timer = _timeProvider.CreateTimer(static s => ((ServerCallDeadline)s!).OnTimer(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        lock (_lock)
        {
            _timer = timer;
        }
        // Armed after _timer is set so a zero timeout that fires at once finds a consistent state.
        timer.Change(_timeout, Timeout.InfiniteTimeSpan);
    }

    private void OnTimer()
    {
        lock (_lock)
        {
            if (_disposed || _expiry is not null) return;
            Volatile.Write(ref _exceeded, 1);
            // Off the timer thread: a manual clock fires timers inline inside Advance().
            _expiry = Task.Run(() => _context.OnDeadlineExceededAsync(_timeout));
        }
    }

    public async ValueTask DisposeAsync()
    {
        ITimer? timer;
        Task? expiry;
        lock (_lock)
        {
            _disposed = true;
            timer = _timer;
            _timer = null;
        }
        if (timer is not null) await timer.DisposeAsync().ConfigureAwait(false);
        lock (_lock)
        {
            expiry = _expiry;
        }
        if (expiry is not null) await expiry.ConfigureAwait(false);
    }
}
