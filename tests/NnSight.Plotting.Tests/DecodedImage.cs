using System.Xml.Linq;
using StbImageSharp;

namespace NnSight.Plotting.Tests;

/// <summary>A PNG decoded to RGBA pixels, and the SVG reading the tests need.</summary>
internal sealed class DecodedImage
{
    private static readonly XNamespace Svg = "http://www.w3.org/2000/svg";
    private static readonly XNamespace XLink = "http://www.w3.org/1999/xlink";

    private readonly ImageResult _image;

    private DecodedImage(ImageResult image) => _image = image;

    public int Width => _image.Width;

    public int Height => _image.Height;

    /// <summary>Decodes PNG bytes (fails the test when they are not a PNG).</summary>
    public static DecodedImage FromPng(byte[] png)
    {
        Assert.True(png.AsSpan().StartsWith((byte[])[0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]), "not a PNG signature");
        return new DecodedImage(ImageResult.FromMemory(png, ColorComponents.RedGreenBlueAlpha));
    }

    /// <summary>The pixel at (<paramref name="x"/>, <paramref name="y"/>) as #RRGGBB (alpha must be opaque).</summary>
    public string Hex(int x, int y)
    {
        var offset = (y * Width + x) * 4;
        var data = _image.Data;
        Assert.Equal(255, data[offset + 3]);
        return $"#{data[offset]:X2}{data[offset + 1]:X2}{data[offset + 2]:X2}";
    }

    /// <summary>The pixel's red, green and blue.</summary>
    public (int R, int G, int B) Rgb(int x, int y)
    {
        var offset = (y * Width + x) * 4;
        return (_image.Data[offset], _image.Data[offset + 1], _image.Data[offset + 2]);
    }

    /// <summary>An SVG file's declared size and the bitmaps embedded in it (ScottPlot writes a heatmap as one).</summary>
    public static (int Width, int Height, IReadOnlyList<DecodedImage> Images, XDocument Document) ReadSvg(string path)
    {
        var document = XDocument.Load(path);
        var root = document.Root!;
        Assert.Equal(Svg + "svg", root.Name);
        var images = root.Descendants(Svg + "image")
            .Select(image => (string)image.Attribute(XLink + "href")!)
            .Where(href => href.StartsWith("data:image/png;base64,", StringComparison.Ordinal))
            .Select(href => FromPng(Convert.FromBase64String(href["data:image/png;base64,".Length..])))
            .ToList();
        return ((int)root.Attribute("width")!, (int)root.Attribute("height")!, images, document);
    }
}
