namespace CausalTap.Imaging.Png;

/// <summary>
/// A minimal read-only stream over the first <see cref="Length"/> bytes of a reusable array, so that the
/// concatenated IDAT payload can be fed to <see cref="System.IO.Compression.ZLibStream"/> without allocating a
/// new <see cref="MemoryStream"/> per frame.
/// </summary>
internal sealed class ByteBufferStream : Stream
{
    private byte[] _data = [];
    private int _length;
    private int _position;

    public void Reset(byte[] data, int length)
    {
        _data = data;
        _length = length;
        _position = 0;
    }

    public override bool CanRead => true;
    public override bool CanSeek => false;
    public override bool CanWrite => false;
    public override long Length => _length;

    public override long Position
    {
        get => _position;
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        var n = Math.Min(buffer.Length, _length - _position);
        _data.AsSpan(_position, n).CopyTo(buffer);
        _position += n;
        return n;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
    public override void SetLength(long value) => throw new NotSupportedException();
    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
