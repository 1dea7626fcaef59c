import json,glob,os,statistics,sys
d=sys.argv[1]
ws=['resnet18_224','resnet18_64','resnet18_frozen_224','forward','smallcnn','mlp']
rounds=sorted({int(os.path.basename(f).split('-')[0]) for f in glob.glob(d+'/*.json')})
for w in ws:
    cells=[];ratios=[]
    for r in rounds:
        v={}
        for side in ['base','main']:
            f=f'{d}/{r}-{w}-{side}.json'
            try: v[side]=json.load(open(f))[0]['primaryMetric']['score']
            except Exception: v[side]=None
        if None in v.values(): continue
        cells.append(f"{v['base']:.2f} / {v['main']:.2f}"); ratios.append(v['main']/v['base'])
    if ratios: print(f"| {w} | "+" | ".join(cells)+f" | {statistics.median(ratios):.3f} |")
