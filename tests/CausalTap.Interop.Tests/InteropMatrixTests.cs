using Grpc.Core;
using Grpc.Net.Client;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace CausalTap.Interop.Tests;

/// <summary>
/// The interop matrix: each row is one (client -> server, case) cell of grpc/grpc's interop test cases.
/// <list type="bullet">
/// <item>python-client (grpcio) and node-client (@grpc/grpc-js) against CausalTap's server;</item>
/// <item>CausalTap's client against python-server (grpcio), and against CausalTap's server as a baseline.</item>
/// </list>
/// Each external client runs in its own process per case (fresh channel, so one broken case cannot fail the
/// next); the extra row "all_cases_one_channel" runs every case on one channel to catch connection-level damage.
/// </summary>
[Collection(InteropCollection.Name)]
[TestCaseOrderer("CausalTap.Interop.Tests.MatrixOrderer", "CausalTap.Interop.Tests")]
public sealed class InteropMatrixTests(InteropFixture fixture)
{
    public const string PythonToCausalTap = "python-client -> causaltap-server";
    public const string NodeToCausalTap = "node-client -> causaltap-server";
    public const string CausalTapToPython = "causaltap-client -> python-server";
    public const string CausalTapToCausalTap = "causaltap-client -> causaltap-server";
    public const string AllCasesOneChannel = "all_cases_one_channel";

    public static readonly string[] Pairs = [PythonToCausalTap, NodeToCausalTap, CausalTapToPython, CausalTapToCausalTap];

    public static readonly string[] Cases = [.. CSharpInteropClient.AllCases, AllCasesOneChannel];

    private static readonly TimeSpan PerCaseTimeout = TimeSpan.FromSeconds(60);

    public static TheoryData<string, string> Matrix()
    {
        var data = new TheoryData<string, string>();
        foreach (string pair in Pairs)
        {
            foreach (string c in Cases) data.Add(pair, c);
        }
        return data;
    }

    [InteropTheory]
    [MemberData(nameof(Matrix))]
    public async Task Interop(string pair, string caseName)
    {
        string[] cases = caseName == AllCasesOneChannel ? CSharpInteropClient.AllCases : [caseName];
        IReadOnlyDictionary<string, string?> outcome = pair switch
        {
            PythonToCausalTap => await PeerClient.Python.RunCasesAsync(OurHostPort(), cases, PerCaseTimeout * cases.Length),
            NodeToCausalTap => await PeerClient.Node.RunCasesAsync(OurHostPort(), cases, PerCaseTimeout * cases.Length),
            CausalTapToPython => await RunOurClientAsync(fixture.PythonServer.Address, cases),
            CausalTapToCausalTap => await RunOurClientAsync(fixture.DotnetServerAddress, cases),
            _ => throw new ArgumentException($"unknown pair {pair}"),
        };

        var failures = cases.Where(c => outcome[c] is not null).Select(c => $"FAIL {c}: {outcome[c]}").ToList();
        if (failures.Count > 0)
        {
            string who = pair.Split(' ')[0];
            Assert.Fail($"{who} reported:{Environment.NewLine}{string.Join(Environment.NewLine, failures)}");
        }
    }

    private string OurHostPort() => fixture.DotnetServerHostPort;

    /// <summary>Runs cases on one <see cref="GrpcChannel"/>; same outcome shape as an external peer's.</summary>
    private static async Task<IReadOnlyDictionary<string, string?>> RunOurClientAsync(string address, string[] cases)
    {
        var outcome = new Dictionary<string, string?>();
        using var channel = GrpcChannel.ForAddress(address);
        var client = new CSharpInteropClient(channel);
        foreach (string c in cases)
        {
            try
            {
                await client.RunAsync(c).WaitAsync(PerCaseTimeout);
                outcome[c] = null;
            }
            catch (InteropCaseException e)
            {
                outcome[c] = e.Message;
            }
            catch (RpcException e)
            {
                outcome[c] = $"unexpected RPC error {e.StatusCode}: {CSharpInteropClient.Quote(e.Status.Detail)}";
            }
            catch (TimeoutException)
            {
                outcome[c] = $"case did not finish within {PerCaseTimeout.TotalSeconds:0} s";
            }
            catch (Exception e)
            {
                outcome[c] = $"{e.GetType().Name}: {e.Message} {e.StackTrace?.Split('\n').FirstOrDefault()?.Trim()}";
            }
        }
        return outcome;
    }
}

/// <summary>Runs the matrix row by row in its declared order (pair, then case as in the spec).</summary>
public sealed class MatrixOrderer : ITestCaseOrderer
{
    public IEnumerable<TTestCase> OrderTestCases<TTestCase>(IEnumerable<TTestCase> testCases) where TTestCase : ITestCase =>
        testCases.OrderBy(t => Rank(t.TestMethodArguments, 0, InteropMatrixTests.Pairs))
            .ThenBy(t => Rank(t.TestMethodArguments, 1, InteropMatrixTests.Cases))
            .ThenBy(t => t.DisplayName, StringComparer.Ordinal);

    private static int Rank(object[]? args, int index, string[] order) =>
        args is not null && args.Length > index && args[index] is string s && Array.IndexOf(order, s) is var i and >= 0 ? i : int.MaxValue;
}
