from staff.charts import bar_chart


def test_bars_scale_to_the_tallest_shown_value_and_small_counts_have_no_bar():
    chart = bar_chart(
        "Referrals", [("Jan", 10, "10"), ("Feb", 20, "20"), ("Mar", 3, "<5")], height=220
    )
    jan, feb, mar = chart.bars
    assert feb.height == 160 and jan.height == 80
    assert mar.height == 0 and mar.value_text == "<5"
    assert chart.description == "Jan: 10; Feb: 20; Mar: <5"


def test_a_chart_of_only_small_counts_draws_no_bars():
    chart = bar_chart("Referrals", [("Jan", 2, "<5"), ("Feb", 0, "<5")])
    assert [bar.height for bar in chart.bars] == [0, 0]
