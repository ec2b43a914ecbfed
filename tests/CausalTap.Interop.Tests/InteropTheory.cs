using Xunit.Abstractions;
using Xunit.Sdk;

namespace CausalTap.Interop.Tests;

/// <summary>
/// A theory whose rows are (pair, case) and whose rows are named "interop {pair}: {case}", e.g.
/// "interop python-client -> causaltap-server: large_unary", so the test report reads as the interop matrix.
/// </summary>
[XunitTestCaseDiscoverer("CausalTap.Interop.Tests.InteropTheoryDiscoverer", "CausalTap.Interop.Tests")]
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class InteropTheoryAttribute : TheoryAttribute
{
}

/// <summary>Pre-enumerates the rows like the theory discoverer does, but as <see cref="InteropTestCase"/>s.</summary>
public sealed class InteropTheoryDiscoverer(IMessageSink diagnosticMessageSink) : TheoryDiscoverer(diagnosticMessageSink)
{
    protected override IEnumerable<IXunitTestCase> CreateTestCasesForDataRow(ITestFrameworkDiscoveryOptions discoveryOptions,
        ITestMethod testMethod, IAttributeInfo theoryAttribute, object[] dataRow)
    {
        yield return new InteropTestCase(DiagnosticMessageSink, discoveryOptions.MethodDisplayOrDefault(),
            discoveryOptions.MethodDisplayOptionsOrDefault(), testMethod, dataRow);
    }
}

/// <summary>One matrix cell; only its display name differs from a normal theory row.</summary>
public sealed class InteropTestCase : XunitTestCase
{
    [Obsolete("Called by the de-serializer; should only be called by deriving classes for de-serialization purposes")]
    public InteropTestCase()
    {
    }

    public InteropTestCase(IMessageSink diagnosticMessageSink, TestMethodDisplay defaultMethodDisplay,
        TestMethodDisplayOptions defaultMethodDisplayOptions, ITestMethod testMethod, object[] testMethodArguments)
        : base(diagnosticMessageSink, defaultMethodDisplay, defaultMethodDisplayOptions, testMethod, testMethodArguments)
    {
    }

    protected override string GetDisplayName(IAttributeInfo factAttribute, string displayName) =>
        TestMethodArguments is [string pair, string caseName]
            ? $"interop {pair}: {caseName}"
            : base.GetDisplayName(factAttribute, displayName);
}
