"""The victim's side: the model, the private images, the gradient it shares and how it may defend
it, the victim holding its batch, and training on shared gradients."""
