using System.Reflection;
using TorchSharp;
using TorchSharp.Modules;
using NnSight.Models.Modules;
using static TorchSharp.torch;

namespace NnSight.Models.Loading;

/// <summary>
/// Gives a module tree built on the meta device (shapes only, no storage, no initialisation) its real parameters.
/// TorchSharp has no <c>to_empty</c>, so each meta parameter is replaced where its module holds it: through the
/// module's settable property (TorchSharp's own modules, whose setters keep native state and registration in step), or
/// in its fields and registration (modules of this library). Parameters are matched by state_dict name, since a native
/// module's getter wraps its tensor anew on each call; tied parameters are tied again afterwards.
/// </summary>
internal static class MetaParameters
{
    /// <summary>The device modules are built on before their parameters are read.</summary>
    public static readonly Device Meta = new(DeviceType.META);

    private static readonly MethodInfo RegisterParameter = typeof(nn.Module).GetMethod(
        "ConditionallyRegisterParameter", BindingFlags.Instance | BindingFlags.NonPublic, [typeof(string), typeof(Parameter)])
        ?? throw new MissingMethodException("TorchSharp's Module has no ConditionallyRegisterParameter(string, Parameter).");

    private sealed record Slot(nn.Module Module, string Name, string FullName, Parameter Meta);

    /// <summary>
    /// Makes each tensor of <paramref name="values"/> (by state_dict name) the parameter of that name, without a copy;
    /// the parameters of <paramref name="tied"/> are left for <see cref="CausalLanguageModel.TieWeights"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">A parameter has no value and is not tied.</exception>
    public static void Materialize(CausalLanguageModel root, IReadOnlyDictionary<string, Tensor> values, IReadOnlyCollection<string> tied)
    {
        // Every slot is found before any is replaced: a setter may dispose a meta parameter another slot holds.
        var slots = new[] { ("", (nn.Module)root) }.Concat(root.named_modules())
            .SelectMany(pair => pair.Item2.named_parameters(recurse: false).Select(parameter => new Slot(
                pair.Item2, parameter.name, pair.Item1.Length == 0 ? parameter.name : $"{pair.Item1}.{parameter.name}", parameter.parameter)))
            .Where(slot => !tied.Contains(slot.FullName))
            .ToList();
        foreach (var slot in slots)
        {
            var value = values.GetValueOrDefault(slot.FullName)
                ?? throw new InvalidOperationException($"The parameter {slot.FullName} has no value to load.");
            Replace(slot, new Parameter(value, slot.Meta.requires_grad));
        }
        root.TieWeights();
    }

    private static void Replace(Slot slot, Parameter replacement)
    {
        var type = slot.Module.GetType();
        if (type.GetProperty(slot.Name, BindingFlags.Instance | BindingFlags.Public) is { CanWrite: true } property
            && property.PropertyType.IsAssignableFrom(typeof(Parameter)))
        {
            property.SetValue(slot.Module, replacement);
            return;
        }
        for (var declaring = type; declaring is not null && declaring != typeof(nn.Module); declaring = declaring.BaseType)
        {
            foreach (var field in declaring.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly))
            {
                if (ReferenceEquals(field.GetValue(slot.Module), slot.Meta))
                {
                    field.SetValue(slot.Module, replacement);
                }
            }
        }
        RegisterParameter.Invoke(slot.Module, [slot.Name, replacement]);
    }
}
