using System.Buffers.Binary;
using System.Xml.Linq;
using NnSight.TestSupport;

namespace NnSight.EndToEnd.Tests;

/// <summary>
/// The README's template steps, after its package steps and in the same home folder: the template is installed from
/// the locally packed NnSight.Templates package, and the project it creates builds, runs its three recipes and draws its
/// logit-lens figure; its switches give the projects they promise.
/// </summary>
[Collection(ReadmePackages.Name)]
public sealed class TemplateTests(PackageConsumerTests.ReadmeProject readme)
{
    private string Study => Path.Combine(readme.Home, "MyStudy");

    [Fact]
    public void The_created_project_builds_and_runs_its_three_recipes()
    {
        var output = readme.TemplateRunOutput;

        Assert.Contains("Loaded a 4-layer gpt2 with a vocabulary of 50257.", output, StringComparison.Ordinal);
        Assert.Contains("Logit lens: the last layer predicts", output, StringComparison.Ordinal);
        Assert.Contains("Patching: logit(Mary) - logit(John) on the corrupted prompt is", output, StringComparison.Ordinal);
        Assert.Contains("Patching: layer 3 at position 9 from the clean prompt gives", output, StringComparison.Ordinal);
        Assert.Contains("Steering: plain   \"I think that you are|", output, StringComparison.Ordinal);
        Assert.Contains("Steering: steered \"I think that you are|", output, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(Study, "tiny-gpt2", "model.safetensors")), "the bundled tiny GPT-2 is copied into the project");
    }

    [Fact]
    public void The_created_project_draws_its_logit_lens_as_png_and_svg_of_one_size()
    {
        _ = readme.TemplateRunOutput;

        var png = File.ReadAllBytes(Path.Combine(Study, "logit-lens.png"));
        Assert.True(png.AsSpan().StartsWith((byte[])[0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]), "logit-lens.png is a PNG");
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(png, 12, 4));
        var (width, height) = (BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)), BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
        var svg = XDocument.Load(Path.Combine(Study, "logit-lens.svg")).Root!;

        Assert.Equal("svg", svg.Name.LocalName);
        Assert.Equal((width, height), ((int)svg.Attribute("width")!, (int)svg.Attribute("height")!));
        Assert.InRange(width, 400, 4000);
        Assert.Contains(svg.Descendants(), element => element.Name.LocalName == "text" && element.Value.Contains("Logit lens", StringComparison.Ordinal));
    }

    [Fact]
    public void A_project_for_another_config_is_typed_from_it_and_carries_no_bundled_model()
    {
        _ = readme.TemplateRunOutput;
        var configs = Path.Combine(readme.Home, "gpt2");
        Directory.CreateDirectory(configs);
        File.Copy(Path.Combine(RepositoryPaths.Root, "models", "gpt2", "config.json"), Path.Combine(configs, "config.json"), overwrite: true);

        readme.Dotnet(readme.Home, "new nnsight-app -n RealGpt2 --model ../gpt2/config.json");
        var project = Path.Combine(readme.Home, "RealGpt2");
        var build = readme.Dotnet(project, "build");

        Assert.False(Directory.Exists(Path.Combine(project, "tiny-gpt2")));
        Assert.Contains("<AdditionalFiles Include=\"../gpt2/config.json\" />", File.ReadAllText(Path.Combine(project, "RealGpt2.csproj")), StringComparison.Ordinal);
        Assert.Contains("[LanguageModel(\"../gpt2/config.json\")]", File.ReadAllText(Path.Combine(project, "Program.cs")), StringComparison.Ordinal);
        Assert.Contains("0 Warning(s)", build, StringComparison.Ordinal);
    }

    [Fact]
    public void The_cuda_switch_references_the_cuda_backend_and_runs_on_cuda()
    {
        _ = readme.TemplateRunOutput;

        readme.Dotnet(readme.Home, "new nnsight-app -n GpuStudy --cuda");
        var project = File.ReadAllText(Path.Combine(readme.Home, "GpuStudy", "GpuStudy.csproj"));
        var program = File.ReadAllText(Path.Combine(readme.Home, "GpuStudy", "Program.cs"));

        Assert.Contains($"<PackageReference Include=\"libtorch-cuda-12.8-linux-x64\" Version=\"{PackageConsumerTests.Property("Directory.Packages.props", "LibTorchVersion")}\" />", project, StringComparison.Ordinal);
        Assert.DoesNotContain("libtorch-cpu", project, StringComparison.Ordinal);
        Assert.Contains("const string Device = \"cuda\";", program, StringComparison.Ordinal);
        Assert.DoesNotContain("\"cpu\"", program, StringComparison.Ordinal);
    }

    [Fact]
    public void The_plotting_and_template_packages_carry_a_readme_and_the_template_is_a_template_package()
    {
        _ = readme.TemplateRunOutput;
        var version = PackageConsumerTests.Property("Directory.Build.props", "Version");

        foreach (var id in new[] { "NnSight.Plotting", "NnSight.Templates" })
        {
            using var package = System.IO.Compression.ZipFile.OpenRead(Path.Combine(readme.PackageFolder, $"{id}.{version}.nupkg"));
            Assert.Contains(package.Entries, entry => entry.FullName == "README.md");
            using var nuspec = new StreamReader(package.GetEntry($"{id}.nuspec")!.Open());
            var text = nuspec.ReadToEnd();
            Assert.Contains("<readme>README.md</readme>", text, StringComparison.Ordinal);
            if (id == "NnSight.Templates")
            {
                Assert.Contains("<packageType name=\"Template\" />", text, StringComparison.Ordinal);
                Assert.Contains(package.Entries, entry => entry.FullName == "content/nnsight-app/tiny-gpt2/model.safetensors");
            }
        }
    }

    [Fact]
    public void The_template_names_the_versions_the_repository_builds()
    {
        var project = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "src", "Templates", "content", "nnsight-app", "MyStudy.csproj"));
        var version = PackageConsumerTests.Property("Directory.Build.props", "Version");

        Assert.Contains($"<PackageReference Include=\"NnSight.Models\" Version=\"{version}\" />", project, StringComparison.Ordinal);
        Assert.Contains($"<PackageReference Include=\"NnSight.Plotting\" Version=\"{version}\" />", project, StringComparison.Ordinal);
        Assert.Contains($"<PackageReference Include=\"libtorch-cpu-linux-x64\" Version=\"{PackageConsumerTests.Property("Directory.Packages.props", "LibTorchVersion")}\" />", project, StringComparison.Ordinal);
    }
}
