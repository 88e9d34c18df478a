"""Workflows that join the layers below: train -> export -> publish (train.py, export.py), and the
benchmark's Keras-in-process forecast service (keras_serving.py). Needs the `train` extra.

It sits above serving and beside web in the layer order (app/.importlinter): it may use every
layer below it, and nothing below it, nor web, imports it. Web starts training as a separate
`stocksense train` process, so TensorFlow never enters the web server.
"""
