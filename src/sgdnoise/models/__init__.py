"""Networks by name and checkpoint helpers (no torchvision needed).

from sgdnoise.models import build_model, load_checkpoint, save_checkpoint
model = build_model("resnet20", input_shape=(3, 32, 32), num_classes=10)
save_checkpoint(model, "run/model.pt")                   # atomic state_dict
load_checkpoint(model, "run/model.pt")                   # weights_only=True, checked keys/shapes
"""

from sgdnoise.models.activations import ACTIVATIONS
from sgdnoise.models.bert import BERT_SIZES, BertClassifier, TinyBert
from sgdnoise.models.checkpoint import check_state_dict, load_checkpoint, model_state, read_checkpoint, save_checkpoint
from sgdnoise.models.cnn import SmallCNN
from sgdnoise.models.mlp import MLP
from sgdnoise.models.registry import build_model, model_names, model_options, seeded_model
from sgdnoise.models.resnet import ResNet
from sgdnoise.models.resnet_cifar import CifarResNet
from sgdnoise.models.vae import VAE, negative_elbo, vae_inputs

__all__ = [
    "ACTIVATIONS",
    "BERT_SIZES",
    "MLP",
    "VAE",
    "BertClassifier",
    "CifarResNet",
    "ResNet",
    "SmallCNN",
    "TinyBert",
    "build_model",
    "check_state_dict",
    "load_checkpoint",
    "model_names",
    "model_options",
    "model_state",
    "negative_elbo",
    "read_checkpoint",
    "save_checkpoint",
    "seeded_model",
    "vae_inputs",
]
