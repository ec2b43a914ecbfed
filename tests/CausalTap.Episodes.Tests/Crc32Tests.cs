using System.Diagnostics;
using System.Text;

namespace CausalTap.Episodes.Tests;

public class Crc32Tests
{
    [Fact]
    public void KnownVectors()
    {
        Assert.Equal(0u, Crc32.Compute([]));
        Assert.Equal(0xCBF43926u, Crc32.Compute("123456789"u8));
        Assert.Equal(0x414FA339u, Crc32.Compute(Encoding.ASCII.GetBytes("The quick brown fox jumps over the lazy dog")));
    }

    [Fact]
    public void AppendInPiecesEqualsWhole()
    {
        var data = new byte[10_000];
        new Random(7).NextBytes(data);
        var crc = 0u;
        for (var i = 0; i < data.Length; i += 777)
        {
            crc = Crc32.Append(crc, data.AsSpan(i, Math.Min(777, data.Length - i)));
        }
        Assert.Equal(Crc32.Compute(data), crc);
    }

    [Fact]
    public void MatchesPythonZlib()
    {
        var data = new byte[4099];
        new Random(11).NextBytes(data);
        var info = new ProcessStartInfo(File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("import sys, zlib; print(zlib.crc32(sys.stdin.buffer.read()))");
        using var p = Process.Start(info)!;
        p.StandardInput.BaseStream.Write(data);
        p.StandardInput.Close();
        var output = p.StandardOutput.ReadToEnd();
        p.WaitForExit();
        Assert.Equal(0, p.ExitCode);
        Assert.Equal(uint.Parse(output.Trim(), System.Globalization.CultureInfo.InvariantCulture), Crc32.Compute(data));
    }
}
