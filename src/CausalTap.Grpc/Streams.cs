namespace CausalTap.Grpc;

/// <summary>Reads the messages of a stream one at a time. <see cref="MoveNext"/> returns false at its end.</summary>
public interface IAsyncStreamReader<out T>
{
    /// <summary>The message read by the last successful <see cref="MoveNext"/>.</summary>
    T Current { get; }

    Task<bool> MoveNext(CancellationToken cancellationToken = default);
}

/// <summary>Writes stream messages. One write at a time: a write while another is pending throws.</summary>
public interface IAsyncStreamWriter<in T>
{
    Task WriteAsync(T message, CancellationToken cancellationToken = default);
}

/// <summary>Server side of a response stream.</summary>
public interface IServerStreamWriter<in T> : IAsyncStreamWriter<T>
{
}

/// <summary>Client side of a request stream; <see cref="CompleteAsync"/> half-closes it.</summary>
public interface IClientStreamWriter<in T> : IAsyncStreamWriter<T>
{
    Task CompleteAsync();
}

public static class AsyncStreamReaderExtensions
{
    /// <summary>Enumerates the remaining messages (for <c>await foreach</c>).</summary>
    public static async IAsyncEnumerable<T> ReadAllAsync<T>(
        this IAsyncStreamReader<T> reader,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        while (await reader.MoveNext(cancellationToken).ConfigureAwait(false))
        {
            yield return reader.Current;
        }
    }
}
