/* Draws the report charts with Apache ECharts (static/vendor/echarts). Loaded, with ECharts, only
   by pages that have charts (templates/_charts.html). Each chart's container carries what it
   shows in `data-chart` (JSON, benefits/charts.py): kind, labels, series of whole numbers, and
   whether they are fen. The same numbers are in a table beside each chart, so a page reads
   without this file.

   The Content-Security-Policy allows no inline style: ECharts' HTML tooltips are strings with
   style attributes, which the browser would refuse, so tooltips are drawn in the canvas
   (renderMode "richText"). */
(function () {
  'use strict';
  if (!window.echarts) return;

  var zh = (document.documentElement.lang || '').indexOf('zh') === 0;
  var palette = ['#c8161d', '#f59e0b', '#2563eb', '#15803d', '#7c3aed', '#0891b2', '#6b7280'];
  var font = window.getComputedStyle(document.body).fontFamily;

  // fen → "12.34", as benefits/money.format_yuan prints it
  function yuan(fen) {
    var sign = fen < 0 ? '-' : '';
    fen = Math.abs(Math.round(fen));
    return sign + Math.floor(fen / 100) + '.' + ('0' + (fen % 100)).slice(-2);
  }

  // axis ticks: whole yuan without the ".00"
  function yuanTick(fen) {
    return fen % 100 === 0 ? String(fen / 100) : yuan(fen);
  }

  function plain(value) {
    return String(value);
  }

  function options(spec, width) {
    var format = spec.money ? yuan : plain;
    var base = {
      color: palette,
      textStyle: {fontFamily: font},
      animation: false,
      tooltip: {renderMode: 'richText', confine: true, valueFormatter: format}
    };
    if (spec.kind === 'pie') {
      base.tooltip.trigger = 'item';
      base.legend = {bottom: 0, type: 'scroll'};
      base.series = [{
        // on a phone the ring is smaller, so the labels beside it keep their width
        type: 'pie', radius: width < 480 ? ['26%', '46%'] : ['35%', '62%'], center: ['50%', '45%'],
        label: {formatter: function (p) { return p.name + '\n' + format(p.value); }},
        data: spec.labels.map(function (label, i) { return {name: label, value: spec.series[0].values[i]}; })
      }];
      return base;
    }
    var horizontal = spec.kind === 'hbar';
    // names beside horizontal bars get up to a third of the chart's width, then an ellipsis
    var nameWidth = Math.max(80, Math.min(200, Math.round(width / 3)));
    var category = {type: 'category', data: spec.labels,
                    axisLabel: horizontal ? {width: nameWidth, overflow: 'truncate'} : {hideOverlap: true}};
    if (horizontal) category.inverse = true;   // the first label on top, as in the table
    // counts are whole: no tick at 0.5 (fen are whole too, and their ticks print as yuan)
    var value = {type: 'value', minInterval: 1,
                 axisLabel: {formatter: spec.money ? yuanTick : plain, hideOverlap: true}};
    base.tooltip.trigger = 'axis';
    base.legend = {top: 0, type: 'scroll'};
    base.grid = {left: 8, right: 16, top: 36, bottom: 8, containLabel: true};
    base.xAxis = horizontal ? value : category;
    base.yAxis = horizontal ? category : value;
    base.series = spec.series.map(function (s) {
      return {name: s.name, type: spec.kind === 'line' ? 'line' : 'bar', data: s.values,
              stack: spec.stack ? 'all' : undefined, showSymbol: spec.labels.length <= 31};
    });
    return base;
  }

  var drawn = [];
  Array.prototype.forEach.call(document.querySelectorAll('[data-chart]'), function (el) {
    var spec;
    try {
      spec = JSON.parse(el.dataset.chart);
    } catch (e) {
      return;
    }
    if (!spec.labels || !spec.labels.length) return;     // nothing to draw: the page says so
    el.classList.add('chart-on');
    if (spec.kind === 'hbar') el.classList.add('chart-rows-' + Math.min(spec.labels.length, 10));
    var chart = window.echarts.init(el, null, {renderer: 'canvas', locale: zh ? 'ZH' : 'EN'});
    chart.setOption(options(spec, el.clientWidth));
    drawn.push(chart);
  });
  window.addEventListener('resize', function () {
    drawn.forEach(function (chart) { chart.resize(); });
  });
})();
