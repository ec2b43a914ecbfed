using System.Collections;
using System.Text;

namespace CausalTap.Grpc;

/// <summary>
/// Call headers or trailers. Keys are lower-case ASCII; keys ending in "-bin" carry binary values
/// (base64 on the wire), all other values are printable ASCII.
/// </summary>
public sealed class Metadata : IEnumerable<Metadata.Entry>
{
    /// <summary>Suffix that marks a binary-valued key.</summary>
    public const string BinaryHeaderSuffix = "-bin";

    private readonly List<Entry> _entries = new();

    public int Count => _entries.Count;

    public Metadata Add(string key, string value)
    {
        _entries.Add(new Entry(key, value));
        return this;
    }

    public Metadata Add(string key, byte[] value)
    {
        _entries.Add(new Entry(key, value));
        return this;
    }

    public Metadata Add(Entry entry)
    {
        _entries.Add(entry);
        return this;
    }

    /// <summary>The last entry with this key, or null.</summary>
    public Entry? Get(string key)
    {
        key = key.ToLowerInvariant();
        for (int i = _entries.Count - 1; i >= 0; i--)
        {
            if (_entries[i].Key == key) return _entries[i];
        }
        return null;
    }

    /// <summary>The last string value for this key, or null.</summary>
    public string? GetValue(string key) => Get(key)?.Value;

    /// <summary>The last binary value for this key (a "-bin" key), or null.</summary>
    public byte[]? GetValueBytes(string key) => Get(key)?.ValueBytes;

    public IEnumerable<Entry> GetAll(string key)
    {
        key = key.ToLowerInvariant();
        return _entries.Where(e => e.Key == key);
    }

    public IEnumerator<Entry> GetEnumerator() => _entries.GetEnumerator();

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>One key/value pair; validated on construction so bad metadata fails where it is made.</summary>
    public sealed class Entry
    {
        private readonly string? _value;
        private readonly byte[]? _bytes;

        public Entry(string key, string value)
        {
            Key = NormalizeKey(key);
            if (IsBinaryKey(Key)) throw new ArgumentException($"Key '{Key}' ends in '-bin': pass a byte[] value.", nameof(key));
            foreach (char c in value)
            {
                if (c < 0x20 || c > 0x7E) throw new ArgumentException($"Value for '{Key}' must be printable ASCII.", nameof(value));
            }
            _value = value;
        }

        public Entry(string key, byte[] value)
        {
            Key = NormalizeKey(key);
            if (!IsBinaryKey(Key)) throw new ArgumentException($"Binary value needs a key ending in '-bin', got '{Key}'.", nameof(key));
            _bytes = value;
        }

        public string Key { get; }

        public bool IsBinary => _bytes is not null;

        /// <summary>String value; for a binary entry, its bytes decoded as UTF-8 is never what you want, so this throws.</summary>
        public string Value => _value ?? throw new InvalidOperationException($"'{Key}' is binary: use ValueBytes.");

        public byte[] ValueBytes => _bytes ?? Encoding.ASCII.GetBytes(_value!);

        public override string ToString() => IsBinary ? $"{Key}: <{_bytes!.Length} bytes>" : $"{Key}: {_value}";

        public static bool IsBinaryKey(string key) => key.EndsWith(BinaryHeaderSuffix, StringComparison.Ordinal);

        private static string NormalizeKey(string key)
        {
            ArgumentException.ThrowIfNullOrEmpty(key);
            string k = key.ToLowerInvariant();
            foreach (char c in k)
            {
                bool ok = c is >= 'a' and <= 'z' or >= '0' and <= '9' or '-' or '_' or '.';
                if (!ok) throw new ArgumentException($"Metadata key '{key}' has an invalid character '{c}'.", nameof(key));
            }
            if (k.StartsWith("grpc-", StringComparison.Ordinal))
                throw new ArgumentException($"Metadata key '{key}' is reserved for the gRPC protocol.", nameof(key));
            return k;
        }
    }
}
