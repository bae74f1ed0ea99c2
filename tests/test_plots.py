"""The training curves draw every series the run logged, including one logged once."""

from wgan import plots


def test_a_single_evaluation_shows_its_classes_and_modes_as_points(monkeypatch):
    """A run evaluated once (a short run) has one point per series: a step line alone would draw nothing."""
    figures = []
    monkeypatch.setattr(plots, "figure_png", lambda figure, tight=True: figures.append(figure) or b"")
    images = [{"iteration": 400, "train/estimate": 0.7, "eval/estimate": 0.74, "eval/w1": 5.5, "eval/fd": 4.6,
               "eval/classes_covered": 10, "eval/classes_total": 10}]
    points = [{"iteration": 400, "eval/w1": 0.1, "eval/modes_covered": 8, "eval/modes_total": 8}]
    plots.training_curves(images, "W estimate", "images")
    plots.training_curves(points, "W estimate", "points")
    for figure, label in zip(figures, ("classes generated", "modes covered")):
        (line,) = [line for axes in figure.axes for line in axes.get_lines() if line.get_label() == label]
        assert line.get_marker() == "o" and list(line.get_xdata()) == [400]
