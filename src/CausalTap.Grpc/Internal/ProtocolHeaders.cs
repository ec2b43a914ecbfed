using System.Globalization;
using System.Text;

namespace CausalTap.Grpc.Internal;

/// <summary>Header names and encodings from the gRPC-over-HTTP/2 protocol, shared by server and client.</summary>
public static class ProtocolHeaders
{
    public const string ContentType = "application/grpc";
    public const string StatusTrailer = "grpc-status";
    public const string MessageTrailer = "grpc-message";
    public const string TimeoutHeader = "grpc-timeout";
    public const string EncodingHeader = "grpc-encoding";
    public const string AcceptEncodingHeader = "grpc-accept-encoding";
    public const string TeHeader = "te";

    /// <summary>
    /// True for headers the transport owns; they never appear in user <see cref="Metadata"/>. HTTP header names
    /// are case-insensitive (Kestrel reports e.g. "Content-Type"), and so is this check.
    /// </summary>
    public static bool IsReserved(string key) =>
        key.StartsWith("grpc-", StringComparison.OrdinalIgnoreCase) || key.StartsWith(':')
        || s_reservedHeaders.Contains(key);

    private static readonly HashSet<string> s_reservedHeaders = new(StringComparer.OrdinalIgnoreCase)
    {
        "content-type", "te", "user-agent", "host", "content-length", "accept-encoding",
        "connection", "transfer-encoding", "date", "server",
    };

    /// <summary>
    /// Percent-encodes grpc-message: UTF-8 bytes outside printable ASCII, and '%' itself, become %XX.
    /// </summary>
    public static string PercentEncode(string value)
    {
        bool plain = true;
        foreach (char c in value)
        {
            if (c < 0x20 || c > 0x7E || c == '%') { plain = false; break; }
        }
        if (plain) return value;

        var sb = new StringBuilder(value.Length * 2);
        foreach (byte b in Encoding.UTF8.GetBytes(value))
        {
            if (b >= 0x20 && b <= 0x7E && b != (byte)'%') sb.Append((char)b);
            else sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return sb.ToString();
    }

    /// <summary>Decodes a percent-encoded grpc-message; malformed escapes are kept as they are (the spec says so).</summary>
    public static string PercentDecode(string value)
    {
        if (!value.Contains('%')) return value;
        var bytes = new List<byte>(value.Length);
        for (int i = 0; i < value.Length; i++)
        {
            if (value[i] == '%' && i + 2 < value.Length
                && byte.TryParse(value.AsSpan(i + 1, 2), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out byte b))
            {
                bytes.Add(b);
                i += 2;
            }
            else
            {
                bytes.Add((byte)value[i]);
            }
        }
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <summary>Encodes a timeout as grpc-timeout ("{value}{unit}", at most 8 digits), rounding up.</summary>
    public static string EncodeTimeout(TimeSpan timeout)
    {
        if (timeout <= TimeSpan.Zero) return "1n";
        long ticks = timeout.Ticks; // 100 ns
        // Try units from finest to coarsest until the value fits in 8 digits.
        (long perUnit, char unit)[] units = { (0, 'n'), (10, 'u'), (10_000, 'm'), (10_000_000, 'S'), (600_000_000, 'M'), (36_000_000_000, 'H') };
        foreach (var (perUnit, unit) in units)
        {
            // Nanoseconds only for timeouts under 0.1 s; testing first also keeps ticks * 100 from overflowing.
            if (perUnit == 0 && ticks >= 1_000_000) continue;
            long v = perUnit == 0 ? ticks * 100 : (ticks + perUnit - 1) / perUnit;
            if (v < 100_000_000) return v.ToString(CultureInfo.InvariantCulture) + unit;
        }
        return "99999999H";
    }

    /// <summary>Parses grpc-timeout; false for a malformed value.</summary>
    public static bool TryDecodeTimeout(string? value, out TimeSpan timeout)
    {
        timeout = default;
        if (string.IsNullOrEmpty(value) || value.Length < 2 || value.Length > 9) return false;
        if (!long.TryParse(value.AsSpan(0, value.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out long v)) return false;
        double ticks = value[^1] switch
        {
            'H' => v * 36_000_000_000d,
            'M' => v * 600_000_000d,
            'S' => v * 10_000_000d,
            'm' => v * 10_000d,
            'u' => v * 10d,
            'n' => v / 100d,
            _ => double.NaN,
        };
        if (double.IsNaN(ticks)) return false;
        timeout = ticks >= TimeSpan.MaxValue.Ticks ? TimeSpan.MaxValue : TimeSpan.FromTicks((long)Math.Ceiling(ticks));
        return true;
    }
}
