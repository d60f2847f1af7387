"""Exports a small CNN classifier (random weights, fixed seed) to ONNX for the quick start."""
import sys

import torch


class SmallCnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.features = torch.nn.Sequential(
            torch.nn.Conv2d(3, 16, 3, padding=1), torch.nn.BatchNorm2d(16), torch.nn.ReLU(),
            torch.nn.MaxPool2d(2),
            torch.nn.Conv2d(16, 32, 3, padding=1), torch.nn.ReLU(),
            torch.nn.AdaptiveAvgPool2d(1))
        self.classifier = torch.nn.Linear(32, 10)

    def forward(self, x):
        return torch.softmax(self.classifier(torch.flatten(self.features(x), 1)), dim=1)


def main():
    path = sys.argv[1]
    torch.manual_seed(0)
    model = SmallCnn().eval()
    torch.onnx.export(model, torch.randn(1, 3, 32, 32), path, input_names=["image"], output_names=["probabilities"],
                      dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}}, opset_version=13)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
