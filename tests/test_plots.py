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


def test_the_w1_panel_has_one_legend_above_both_curves(monkeypatch):
    """W1 falls from the top left and the modes rise to the top right: one legend for both, drawn in a band above
    them, crosses neither."""
    figures = []
    monkeypatch.setattr(plots, "figure_png", lambda figure, tight=True: figures.append(figure) or b"")
    history = [{"iteration": 250 * k, "eval/w1": 0.8 / k, "eval/modes_covered": min(25, 5 * k), "eval/modes_total": 25}
               for k in range(1, 21)]
    plots.training_curves(history, "W estimate", "points")
    figure = figures[0]
    figure.canvas.draw()
    legends = [axes.get_legend() for axes in figure.axes if axes.get_legend() is not None]
    w1, modes = ([axes for axes in figure.axes if label in [line.get_label() for line in axes.get_lines()]][0]
                 for label in ("exact W1", "modes covered"))
    panel_legends = [legend for legend in legends if legend.axes in (w1, modes)]
    assert len(panel_legends) == 1
    assert [text.get_text() for text in panel_legends[0].get_texts()] == ["exact W1", "modes covered"]
    box = panel_legends[0].get_window_extent()
    for axes, values in ((w1, [row["eval/w1"] for row in history]), (modes, [25])):
        top_of_curve = axes.transData.transform((0, max(values)))[1]
        assert box.y0 > top_of_curve
