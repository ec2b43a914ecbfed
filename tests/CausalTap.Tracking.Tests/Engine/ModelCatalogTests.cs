using CausalTap.Tracking;

namespace CausalTap.Tracking.Tests.Engine;

public sealed class ModelCatalogTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("causaltap-catalog-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    private void Model(string name, string card = "{}")
    {
        Directory.CreateDirectory(Path.Combine(_root, name));
        File.WriteAllText(Path.Combine(_root, name, "model.json"), card);
    }

    [Fact]
    public void Default_is_configured_then_marked_then_bundled_then_the_only_one()
    {
        Assert.Null(ModelCatalog.DefaultName(Path.Combine(_root, "missing")));
        Model("solo");
        Assert.Equal("solo", ModelCatalog.DefaultName(_root));               // the only model
        Model("other");
        Directory.CreateDirectory(Path.Combine(_root, "not-a-model"));      // no model.json: ignored
        Assert.Null(ModelCatalog.DefaultName(_root));                        // two, nothing decides
        Assert.Equal(["other", "solo"], ModelCatalog.Names(_root));
        Model(ModelCatalog.BundledDefaultName);
        Assert.Equal(ModelCatalog.BundledDefaultName, ModelCatalog.DefaultName(_root));
        Model("marked", """{"default": true}""");
        Model("broken", "{ not json");
        Assert.Equal("marked", ModelCatalog.DefaultName(_root));
        Assert.Equal("solo", ModelCatalog.DefaultName(_root, configured: "solo"));
        Assert.Equal("marked", ModelCatalog.DefaultName(_root, configured: " "));
    }

    [Theory]
    [InlineData(true, true, TrackingMethod.Fused)]
    [InlineData(true, false, TrackingMethod.TapirLk)]
    [InlineData(false, true, TrackingMethod.Gmrw)]
    public void Best_method_is_fused_with_both_families_and_tapir_lk_with_tapir_only(bool tapir, bool gmrw, TrackingMethod best)
    {
        Assert.Equal(best, TrackingMethods.Best(tapir, gmrw));
        Assert.True(TrackingMethods.CanRun(best, tapir, gmrw));
        Assert.Equal(tapir && gmrw, TrackingMethods.CanRun(TrackingMethod.Fused, tapir, gmrw));
    }

    [Fact]
    public void Choose_takes_the_request_then_a_usable_recorded_method_then_the_best()
    {
        Assert.Equal(TrackingMethod.Gmrw, TrackingMethods.Choose(TrackingMethod.Gmrw, "tapir", true, false)); // asked wins, checked later
        Assert.Equal(TrackingMethod.Tapir, TrackingMethods.Choose(null, "TRACKING_METHOD_TAPIR", true, true));
        Assert.Equal(TrackingMethod.TapirLk, TrackingMethods.Choose(null, "gmrw", true, false));            // recorded but not runnable
        Assert.Equal(TrackingMethod.TapirLk, TrackingMethods.Choose(null, "TRACKING_METHOD_TAPIR_LK", true, false));
        Assert.Equal(TrackingMethod.Fused, TrackingMethods.Choose(null, "", true, true));
        Assert.Null(TrackingMethods.Parse("bogus"));
        Assert.Equal("gmrw", TrackingMethods.Name(TrackingMethods.Parse(" GMRW ")!.Value));
    }
}
