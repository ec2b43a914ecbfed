namespace CausalTap.Imaging.Tests;

public sealed class OverlayRendererTests
{
    [Fact]
    public void VisiblePoint_IsFilledDisc_InItsColour()
    {
        using var image = new RgbImage(64, 64);
        var renderer = new OverlayRenderer { Radius = 4, TrailLength = 0 };
        renderer.Render(image, [new OverlayPoint(3, 20.5f, 30.5f, Visible: true)]);
        var color = OverlayRenderer.ColorFor(3);
        Assert.Equal(color, image.GetPixel(20, 30)); // centre
        Assert.Equal(color, image.GetPixel(22, 31)); // inside
        Assert.Equal(((byte)0, (byte)0, (byte)0), image.GetPixel(26, 30)); // outside the radius
    }

    [Fact]
    public void OccludedPoint_IsHollowRing()
    {
        using var image = new RgbImage(64, 64);
        var renderer = new OverlayRenderer { Radius = 4, RingThickness = 2, TrailLength = 0 };
        renderer.Render(image, [new OverlayPoint(5, 20.5f, 30.5f, Visible: false)]);
        var color = OverlayRenderer.ColorFor(5);
        Assert.Equal(((byte)0, (byte)0, (byte)0), image.GetPixel(20, 30)); // centre untouched
        Assert.Equal(((byte)0, (byte)0, (byte)0), image.GetPixel(21, 30)); // still inside the hole
        Assert.Equal(color, image.GetPixel(23, 30));  // on the ring (distance 3)
        Assert.Equal(color, image.GetPixel(20, 34));  // on the ring (distance 4)
        Assert.Equal(((byte)0, (byte)0, (byte)0), image.GetPixel(25, 30)); // beyond the ring
    }

    [Fact]
    public void Trail_FadesWithAge()
    {
        using var image = new RgbImage(100, 40);
        var renderer = new OverlayRenderer { Radius = 2, TrailLength = 5 };
        for (var f = 0; f < 5; f++)
        {
            image.Pixels.Clear();
            renderer.Render(image, [new OverlayPoint(1, 10.5f + 15 * f, 20.5f, true)]);
        }
        // Trail segments lie on row 20 between the old positions (x = 10.5, 25.5, 40.5, 55.5) and the disc at 70.5.
        var oldest = Brightness(image.GetPixel(18, 20));
        var newest = Brightness(image.GetPixel(63, 20));
        Assert.True(oldest > 0, "the oldest trail segment is drawn");
        Assert.True(newest > oldest, $"newer segments are brighter ({newest} vs {oldest})");
        Assert.Equal(OverlayRenderer.ColorFor(1), image.GetPixel(70, 20));
        Assert.Equal(0, Brightness(image.GetPixel(5, 20))); // nothing before the first position
    }

    [Fact]
    public void Trail_IsLimitedToTrailLength()
    {
        using var image = new RgbImage(200, 20);
        var renderer = new OverlayRenderer { Radius = 1, TrailLength = 3 };
        for (var f = 0; f < 8; f++)
        {
            image.Pixels.Clear();
            renderer.Render(image, [new OverlayPoint(2, 5.5f + 20 * f, 10.5f, true)]);
        }
        // Only the last 3 positions (x = 105.5, 125.5, 145.5) are connected.
        Assert.Equal(0, Brightness(image.GetPixel(60, 10)));
        Assert.True(Brightness(image.GetPixel(115, 10)) > 0);
    }

    [Fact]
    public void Colours_AreStablePerIdAndDistinct()
    {
        Assert.Equal(OverlayRenderer.ColorFor(7), OverlayRenderer.ColorFor(7));
        var colours = Enumerable.Range(0, 12).Select(OverlayRenderer.ColorFor).ToHashSet();
        Assert.Equal(12, colours.Count);
    }

    [Fact]
    public void PointsOutsideTheImage_AreClippedNotThrown()
    {
        using var image = new RgbImage(16, 16);
        var renderer = new OverlayRenderer();
        renderer.Render(image, [new(1, -3, -3, true), new(2, 100, 5, false), new(3, float.NaN, 2, true), new(4, 15.9f, 15.9f, true)]);
        Assert.Equal(OverlayRenderer.ColorFor(4), image.GetPixel(15, 15));
    }

    [Fact]
    public void Markers_ScaleWithTheFrame_SoTheyShowOn720p()
    {
        var renderer = new OverlayRenderer();
        Assert.Equal(7.2f, renderer.RadiusFor(1280, 720), 3);
        Assert.Equal(4f, renderer.RadiusFor(160, 120));
        using var image = new RgbImage(1280, 720);
        renderer.Render(image, [new OverlayPoint(2, 640.5f, 360.5f, Visible: true)]);
        Assert.Equal(OverlayRenderer.ColorFor(2), image.GetPixel(646, 360)); // 6 px from the centre: inside
        Assert.Equal(((byte)0, (byte)0, (byte)0), image.GetPixel(649, 360));
    }

    private static int Brightness((byte R, byte G, byte B) p) => p.R + p.G + p.B;
}
