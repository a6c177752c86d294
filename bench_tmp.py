import numpy as np, time, warnings
warnings.simplefilter("ignore")
from mdp.multiobjective import *
import torch; torch.set_num_threads(1)
for k,S in [(3,10),(3,20)]:
  m=random_momdp(S,4,k,0.9,seed=0)
  V=convex_coverage_set(m).vertices; z=V.min(0)-0.1*(V.max(0)-V.min(0)); ex=stochastic_front_hypervolume(V,z)
  for kw in [dict(archive_size=10**6), dict(archive_size=10**6, rounds=12, n_select=10), dict(archive_size=10**6, rounds=20, n_select=20, iterations_per_round=10)]:
      t=time.process_time(); w=time.time(); r=cmorl(m,ref=z,solver='barrier', eval_weights=np.eye(k), **kw)
      print(k,S,kw, 'cpu',round(time.process_time()-t,1),'wall',round(time.time()-w,1), r.hypervolume[-1]/ex, r.budget[-1], len(r.front), flush=True)
