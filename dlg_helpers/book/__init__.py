"""What the chapters show: tables, figures, the explorer, glued values, chapter execution and the
Colab setup cell."""
