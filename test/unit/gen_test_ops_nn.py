#!/usr/bin/python3
"""Expected values of test/unit/test_ops_nn.c: each case of that file mirrored
in torch 1.13. Prints C arrays; paste them over the generated block there.
Run with /usr/bin/python3 (the interpreter that imports torch)."""
import torch, numpy as np
import torch.nn.functional as F
torch.set_num_threads(1)
def fill(shape, seed):
    n = int(np.prod(shape))
    v = np.array([((i*i*31 + i*7919 + seed*104729) % 1000)/1000.0 - 0.5 for i in range(n)], dtype=np.float64).astype(np.float32)
    return torch.from_numpy(v.reshape(shape))
def emit(name, t):
    v = t.detach().contiguous().view(-1).numpy()
    print("static const float %s[%d] = {%s};  /* %s */" % (name, v.size, ", ".join("%.9gf" % float(a) if np.isfinite(a) else ("-INFINITY" if a < 0 else "INFINITY") for a in v), list(t.shape)))
x = fill((2,3),1); w = fill((4,3),2); b = fill((4,),3)
emit("exp_linear", F.linear(x,w,b))
x = fill((1,2,5,5),1); w = fill((3,2,3,3),2); b = fill((3,),3)
emit("exp_conv_s2p1", F.conv2d(x,w,b,stride=2,padding=1))
x = fill((1,4,4,4),1); w = fill((6,2,3,3),2)
emit("exp_conv_groups", F.conv2d(x,w,None,groups=2))
x = fill((1,3,5,5),1); w = fill((3,1,3,3),2); b = fill((3,),3)
emit("exp_conv_dw", F.conv2d(x,w,b,groups=3,dilation=2,padding=2))
# non-square kernel, asymmetric padding [top=1,left=0,bottom=0,right=2], stride [1,2]
x = fill((1,2,4,5),1); w = fill((2,2,2,3),2); b = fill((2,),3)
emit("exp_conv_asym", F.conv2d(F.pad(x,(0,2,1,0)),w,b,stride=(1,2)))
# same, stride 2: in (6,5), k (3,2), s 2: H: ceil(6/2)=3 -> (3-1)*2+3-6=1 -> (0,1); W: ceil(5/2)=3 -> 4+2-5=1 -> (0,1)
x = fill((1,1,6,5),1); w = fill((2,1,3,2),2)
emit("exp_conv_same", F.conv2d(F.pad(x,(0,1,0,1)),w,None,stride=2))
# conv1d groups 2 stride 2 padding [1,2]
x = fill((2,2,7),1); w = fill((2,1,3),2); b = fill((2,),3)
emit("exp_conv1d", F.conv1d(F.pad(x,(1,2)),w,b,stride=2,groups=2))
# maxpool2d k3 s2 p1 ceil on 6x6 -> 4x4 (x negative so padding must not win)
x = fill((1,1,6,6),4) - 1.0
emit("exp_maxpool_ceil", F.max_pool2d(x,3,2,1,ceil_mode=True))
x = fill((1,1,6,6),4)
emit("exp_avgpool_ceil_inc", F.avg_pool2d(x,3,2,1,ceil_mode=True,count_include_pad=True))
emit("exp_avgpool_ceil_exc", F.avg_pool2d(x,3,2,1,ceil_mode=True,count_include_pad=False))
x = fill((1,2,9),5)
emit("exp_maxpool1d_dil", F.max_pool1d(x,3,2,1,dilation=2,ceil_mode=True))
x = fill((1,1,4),5)
emit("exp_avgpool1d_ceil", F.avg_pool1d(x,3,2,0,ceil_mode=True))
x = fill((1,1,2),5)
emit("exp_avgpool1d_short", F.avg_pool1d(x,3,2,0,ceil_mode=True))
x = fill((1,1,5,7),6)
emit("exp_adaptive2d", F.adaptive_avg_pool2d(x,(3,4)))
x = fill((1,2,5),6)
emit("exp_adaptive1d", F.adaptive_avg_pool1d(x,3))
x = fill((2,3,3,3),6)
emit("exp_adaptive_global", F.adaptive_avg_pool2d(x,1))
x = fill((2,2,2,2),7); w = fill((2,),8); b = fill((2,),9); m = fill((2,),10); v = fill((2,),11)+1
emit("exp_bn2d", F.batch_norm(x,m,v,w,b,False,0.1,1e-3))
x = fill((2,2,3),7); w = fill((2,),2)
emit("exp_prelu", F.prelu(x,w))
x = fill((2,3,2),12)*4
emit("exp_softmax", F.softmax(x,1))
emit("exp_logsoftmax", F.log_softmax(x,-1))
