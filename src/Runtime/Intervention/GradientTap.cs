using static TorchSharp.torch;

namespace NnSight.Intervention;

/// <summary>
/// The identity in the forward pass whose backward hands the incoming gradient to a callback and passes on what the
/// callback returns. TorchSharp has no tensor hooks; a custom autograd function inserted where a value flows gives the
/// same: the gradient of that value, readable and replaceable.
/// </summary>
internal sealed class GradientTap : autograd.SingleTensorFunction<GradientTap>
{
    private const string CallbackKey = "callback";

    /// <inheritdoc />
    public override string Name => "NnSightGradientTap";

    /// <summary>
    /// <paramref name="value"/> as a tensor whose gradient goes through <paramref name="onGradient"/>. A value that does
    /// not require grad (frozen parameters) becomes a leaf that does, so gradients from there on exist.
    /// </summary>
    public static Tensor Wrap(Tensor value, Func<Tensor, Tensor> onGradient)
    {
        ArgumentNullException.ThrowIfNull(value);
        if (value.requires_grad)
        {
            return apply(value, onGradient);
        }
        using var leaf = value.detach().requires_grad_();
        return apply(leaf, onGradient);
    }

    /// <inheritdoc />
    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        ArgumentNullException.ThrowIfNull(vars);
        ctx.save_data(CallbackKey, vars[1]);
        return ((Tensor)vars[0]).alias();
    }

    /// <inheritdoc />
    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor grad_output)
    {
        ArgumentNullException.ThrowIfNull(ctx);
        var onGradient = (Func<Tensor, Tensor>)ctx.get_data(CallbackKey);
        return [onGradient(grad_output), null!];
    }
}
